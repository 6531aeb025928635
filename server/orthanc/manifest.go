package orthanc

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/workpool"
	"github.com/neuronova/neuronova/server"
)

// manifestWorkers is how many MD5 requests StudyManifest keeps in flight.
const manifestWorkers = 8

// StudyManifest lists the instances of the study with Orthanc ID id: SOP and series UIDs, and the size
// and MD5 of each stored file (Orthanc's attachment MD5, asked for in parallel).
func (c *Client) StudyManifest(ctx context.Context, id string) (*api.StudyManifest, error) {
	if !api.ValidOrthancID(id) {
		return nil, server.Errorf(api.CodeInvalid, "%q is not an Orthanc study ID", id)
	}
	var study struct{ MainDicomTags map[string]string }
	if err := c.callJSON(ctx, http.MethodGet, "/studies/"+id, nil, &study); err != nil {
		return nil, err
	}
	var series []struct {
		ID            string
		MainDicomTags map[string]string
	}
	if err := c.callJSON(ctx, http.MethodGet, "/studies/"+id+"/series", nil, &series); err != nil {
		return nil, err
	}
	seriesUID := map[string]string{}
	for _, s := range series {
		seriesUID[s.ID] = s.MainDicomTags["SeriesInstanceUID"]
	}
	var instances []struct {
		ID            string
		FileSize      int64
		ParentSeries  string
		MainDicomTags map[string]string
	}
	if err := c.callJSON(ctx, http.MethodGet, "/studies/"+id+"/instances", nil, &instances); err != nil {
		return nil, err
	}
	m := &api.StudyManifest{OrthancID: id, StudyInstanceUID: study.MainDicomTags["StudyInstanceUID"],
		Instances: make([]api.ManifestInstance, len(instances))}
	for i, in := range instances {
		m.Instances[i] = api.ManifestInstance{OrthancID: in.ID, SOPInstanceUID: in.MainDicomTags["SOPInstanceUID"],
			SeriesInstanceUID: seriesUID[in.ParentSeries], Size: in.FileSize}
	}

	err := workpool.ForEach(ctx, len(m.Instances), manifestWorkers, func(ctx context.Context, _, i int) error {
		sum, err := c.attachmentMD5(ctx, m.Instances[i].OrthancID)
		m.Instances[i].MD5 = sum
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// attachmentMD5 returns the MD5 Orthanc recorded for the DICOM file of an instance.
func (c *Client) attachmentMD5(ctx context.Context, id string) (string, error) {
	path := "/instances/" + id + "/attachments/dicom/md5"
	resp, err := c.Do(ctx, http.MethodGet, path, "", nil, nil, 0)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", server.Errorf(api.CodeBadGateway, "orthanc cut off the MD5 of instance %s", id), path, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%w: %s answered %s: %s", server.Errorf(api.CodeBadGateway,
			"orthanc has no MD5 for instance %s (is StoreMD5ForAttachments off?)", id), path, resp.Status, strings.TrimSpace(string(b)))
	}
	sum := strings.ToLower(strings.TrimSpace(string(b)))
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != 32 {
		return "", server.Errorf(api.CodeBadGateway, "orthanc sent %q as the MD5 of instance %s", sum, id)
	}
	return sum, nil
}
