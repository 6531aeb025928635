package client

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
)

// The Orthanc proxy: every path below is under /api/orthanc/ on the server, which alone holds Orthanc's
// credentials.

// StudyManifest lists every instance of an Orthanc study with the size and MD5 of its stored file, as the
// server read them from Orthanc.
func (c *Client) StudyManifest(ctx context.Context, studyID string) (*api.StudyManifest, error) {
	if !api.ValidOrthancID(studyID) {
		return nil, fmt.Errorf("%q is not an Orthanc study ID", studyID)
	}
	var raw []byte
	if err := c.getBytes(ctx, "/api/orthanc/studies/"+studyID+"/manifest", 256<<20, &raw); err != nil {
		return nil, err
	}
	return ParseManifest(raw)
}

// StudySeries returns the Study Instance UID of an Orthanc study and the Series Instance UIDs of its series.
func (c *Client) StudySeries(ctx context.Context, studyID string) (string, []string, error) {
	if !api.ValidOrthancID(studyID) {
		return "", nil, fmt.Errorf("%q is not an Orthanc study ID", studyID)
	}
	var study struct {
		MainDicomTags struct{ StudyInstanceUID string }
	}
	if err := c.call(ctx, http.MethodGet, "/api/orthanc/studies/"+studyID, nil, nil, &study, true); err != nil {
		return "", nil, err
	}
	var series []struct {
		MainDicomTags struct{ SeriesInstanceUID string }
	}
	if err := c.call(ctx, http.MethodGet, "/api/orthanc/studies/"+studyID+"/series", nil, nil, &series, true); err != nil {
		return "", nil, err
	}
	uid := study.MainDicomTags.StudyInstanceUID
	if !dicomkit.ValidUID(uid) {
		return "", nil, fmt.Errorf("study %s: Study Instance UID %q", studyID, uid)
	}
	out := make([]string, 0, len(series))
	for _, se := range series {
		if !dicomkit.ValidUID(se.MainDicomTags.SeriesInstanceUID) {
			return "", nil, fmt.Errorf("study %s: a series with Series Instance UID %q", studyID, se.MainDicomTags.SeriesInstanceUID)
		}
		out = append(out, se.MainDicomTags.SeriesInstanceUID)
	}
	return uid, out, nil
}

// ParseManifest reads the server's study manifest and checks every entry: Orthanc ID, SOP and series UIDs,
// a positive size, an MD5 of 32 hex digits, no SOP Instance UID twice.
func ParseManifest(raw []byte) (*api.StudyManifest, error) {
	var m api.StudyManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("study manifest: %w", err)
	}
	if !api.ValidOrthancID(m.OrthancID) || !dicomkit.ValidUID(m.StudyInstanceUID) {
		return nil, fmt.Errorf("study manifest: study %q has Study Instance UID %q", m.OrthancID, m.StudyInstanceUID)
	}
	seen := make(map[string]bool, len(m.Instances))
	for i, in := range m.Instances {
		_, hexErr := hex.DecodeString(in.MD5)
		switch {
		case !api.ValidOrthancID(in.OrthancID) || !dicomkit.ValidUID(in.SOPInstanceUID) || !dicomkit.ValidUID(in.SeriesInstanceUID):
			return nil, fmt.Errorf("study manifest: entry %d is incomplete (ID %q, SOP Instance UID %q, series %q)", i,
				in.OrthancID, in.SOPInstanceUID, in.SeriesInstanceUID)
		case in.Size <= 0:
			return nil, fmt.Errorf("study manifest: instance %s has size %d", in.SOPInstanceUID, in.Size)
		case len(in.MD5) != 32 || hexErr != nil:
			return nil, fmt.Errorf("study manifest: instance %s has MD5 %q, not 32 hex digits", in.SOPInstanceUID, in.MD5)
		case seen[in.SOPInstanceUID]:
			return nil, fmt.Errorf("study manifest: SOP Instance UID %s is listed twice", in.SOPInstanceUID)
		}
		seen[in.SOPInstanceUID] = true
		m.Instances[i].MD5 = strings.ToLower(in.MD5)
	}
	return &m, nil
}

// RetrieveSeries streams the instances of a series as Orthanc stored them (DICOMweb WADO-RS with
// transfer-syntax=*, one multipart answer) and calls part with each in turn. A stream cut off is an
// OfflineError; an error of part ends the stream and is returned as it is.
func (c *Client) RetrieveSeries(ctx context.Context, studyUID, seriesUID string, part func(io.Reader) error) error {
	if !dicomkit.ValidUID(studyUID) || !dicomkit.ValidUID(seriesUID) {
		return fmt.Errorf("study %q, series %q: not DICOM UIDs", studyUID, seriesUID)
	}
	resp, cancel, err := c.do(ctx, request{method: http.MethodGet, path: "/api/orthanc/dicom-web/studies/" + studyUID + "/series/" + seriesUID,
		auth: true, download: true, header: http.Header{"Accept": {`multipart/related; type="application/dicom"; transfer-syntax=*`}}})
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/related" || params["boundary"] == "" {
		return fmt.Errorf("series %s: answer of type %q, not multipart/related with a boundary", seriesUID, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &OfflineError{Err: fmt.Errorf("series %s: stream cut off: %w", seriesUID, err)}
		}
		r := &readErr{r: p}
		if err := part(r); err != nil {
			if r.err != nil && r.err != io.EOF {
				return &OfflineError{Err: fmt.Errorf("series %s: stream cut off: %w", seriesUID, r.err)}
			}
			return err
		}
	}
}

// readErr remembers the error its reader returned, to tell a cut stream from a consumer's own failure.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil {
		r.err = err
	}
	return n, err
}

// InstanceMD5 returns the MD5 (hex) Orthanc recorded for the stored file of an instance.
func (c *Client) InstanceMD5(ctx context.Context, id string) (string, error) {
	if !api.ValidOrthancID(id) {
		return "", fmt.Errorf("%q is not an Orthanc instance ID", id)
	}
	var raw []byte
	if err := c.getBytes(ctx, "/api/orthanc/instances/"+id+"/attachments/dicom/md5", 1<<10, &raw); err != nil {
		return "", err
	}
	sum := strings.TrimSpace(string(raw))
	if len(sum) != 32 {
		return "", fmt.Errorf("instance %s: MD5 %q is not 32 hex digits", id, sum)
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return "", fmt.Errorf("instance %s: MD5 %q is not hex", id, sum)
	}
	return strings.ToLower(sum), nil
}

// InstanceSOPUID returns the SOP Instance UID Orthanc holds for an instance.
func (c *Client) InstanceSOPUID(ctx context.Context, id string) (string, error) {
	if !api.ValidOrthancID(id) {
		return "", fmt.Errorf("%q is not an Orthanc instance ID", id)
	}
	var raw []byte
	if err := c.getBytes(ctx, "/api/orthanc/instances/"+id, 1<<20, &raw); err != nil {
		return "", err
	}
	var inst struct {
		MainDicomTags struct{ SOPInstanceUID string }
	}
	if err := json.Unmarshal(raw, &inst); err != nil {
		return "", fmt.Errorf("instance %s: %w", id, err)
	}
	return inst.MainDicomTags.SOPInstanceUID, nil
}

func (c *Client) getBytes(ctx context.Context, path string, limit int64, out *[]byte) error {
	resp, cancel, err := c.do(ctx, request{method: http.MethodGet, path: path, auth: true})
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return &OfflineError{Err: fmt.Errorf("GET %s: answer cut off: %w", path, err)}
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("GET %s: answer larger than %d bytes", path, limit)
	}
	*out = b
	return nil
}

// Download is a file received: its size and MD5 as received.
type Download struct {
	Size int64
	MD5  string
}

// DownloadInstance writes an instance's DICOM file to w, hashing it as it goes. A body shorter than the
// announced length is an OfflineError.
func (c *Client) DownloadInstance(ctx context.Context, id string, w io.Writer) (Download, error) {
	if !api.ValidOrthancID(id) {
		return Download{}, fmt.Errorf("%q is not an Orthanc instance ID", id)
	}
	resp, cancel, err := c.do(ctx, request{method: http.MethodGet, path: "/api/orthanc/instances/" + id + "/file", auth: true, download: true})
	if err != nil {
		return Download{}, err
	}
	defer cancel()
	defer resp.Body.Close()
	return copyHashed(w, resp)
}

// TranscodeInstance asks the server for an instance transcoded to transfer syntax ts (Orthanc keeps its SOP
// Instance UID) and writes it to w.
func (c *Client) TranscodeInstance(ctx context.Context, id, ts string, w io.Writer) (Download, error) {
	if !api.ValidOrthancID(id) {
		return Download{}, fmt.Errorf("%q is not an Orthanc instance ID", id)
	}
	body, _ := json.Marshal(map[string]string{"Transcode": ts})
	resp, cancel, err := c.do(ctx, request{method: http.MethodPost, path: "/api/orthanc/instances/" + id + "/modify", auth: true, download: true,
		body: body, header: http.Header{"Content-Type": {"application/json"}}})
	if err != nil {
		return Download{}, err
	}
	defer cancel()
	defer resp.Body.Close()
	return copyHashed(w, resp)
}

func copyHashed(w io.Writer, resp *http.Response) (Download, error) {
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return Download{}, &OfflineError{Err: fmt.Errorf("download cut off after %d bytes: %w", n, err)}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return Download{}, &OfflineError{Err: fmt.Errorf("download cut off: %d of %d bytes", n, resp.ContentLength)}
	}
	return Download{Size: n, MD5: hex.EncodeToString(h.Sum(nil))}, nil
}

// Stored is Orthanc's answer to an upload.
type Stored struct {
	ID            string
	Status        string // Success or AlreadyStored
	ParentStudy   string
	ParentSeries  string
	ParentPatient string
}

// UploadInstance stores one DICOM file in Orthanc through the server.
func (c *Client) UploadInstance(ctx context.Context, dicom []byte) (*Stored, error) {
	resp, cancel, err := c.do(ctx, request{method: http.MethodPost, path: "/api/orthanc/instances", auth: true, download: true, body: dicom,
		header: http.Header{"Content-Type": {"application/dicom"}}})
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &OfflineError{Err: fmt.Errorf("upload answer cut off: %w", err)}
	}
	var s Stored
	if err := json.Unmarshal(b, &s); err != nil || !api.ValidOrthancID(s.ID) {
		return nil, fmt.Errorf("upload answer %q unreadable", bytes.TrimSpace(b))
	}
	return &s, nil
}

// StowResult is what Orthanc answered a STOW-RS request: the SOP Instance UIDs it stored (or held already)
// and those it failed, each with its DICOM Failure Reason.
type StowResult struct {
	Stored []string
	Failed map[string]int
}

// StoreInstances stores DICOM files in Orthanc through the server in one STOW-RS request, which the server
// checks whole before Orthanc sees any part of it. A refused request is an error; a part Orthanc failed is
// listed in Failed.
func (c *Client) StoreInstances(ctx context.Context, files [][]byte) (*StowResult, error) {
	var body bytes.Buffer
	n := 0
	for _, f := range files {
		n += len(f) + 128
	}
	body.Grow(n + 64)
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		if err != nil {
			return nil, err
		}
		w.Write(f) // a bytes.Buffer does not fail
	}
	mw.Close()
	resp, cancel, err := c.do(ctx, request{method: http.MethodPost, path: "/api/orthanc/dicom-web/studies", auth: true, download: true,
		body: body.Bytes(), header: http.Header{"Content-Type": {`multipart/related; type="application/dicom"; boundary=` + mw.Boundary()},
			"Accept": {"application/dicom+json"}}})
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxStowAnswer+1))
	if err != nil {
		return nil, &OfflineError{Err: fmt.Errorf("STOW-RS answer cut off: %w", err)}
	}
	if len(b) > maxStowAnswer {
		return nil, fmt.Errorf("STOW-RS answer larger than %d bytes", maxStowAnswer)
	}
	return ParseStowAnswer(b)
}

// maxStowAnswer bounds the answer of a STOW-RS request (a few hundred bytes an instance).
const maxStowAnswer = 16 << 20

// dicomJSON is an element of a DICOM JSON object (PS3.18 F.2): its VR and values.
type dicomJSON map[string]struct {
	VR    string            `json:"vr"`
	Value []json.RawMessage `json:"Value"`
}

// ParseStowAnswer reads a STOW-RS answer in DICOM JSON: the Referenced SOP Instance UID of each item of its
// Referenced SOP Sequence (0008,1199), stored, and of its Failed SOP Sequence (0008,1198), failed with their
// Failure Reason (0008,1197). Every UID must be a DICOM UID.
func ParseStowAnswer(b []byte) (*StowResult, error) {
	var top dicomJSON
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("STOW-RS answer: %w", err)
	}
	res := &StowResult{Failed: map[string]int{}}
	for _, seq := range []string{"00081199", "00081198"} {
		for i, raw := range top[seq].Value {
			var item dicomJSON
			if err := json.Unmarshal(raw, &item); err != nil {
				return nil, fmt.Errorf("STOW-RS answer: item %d of (%s,%s): %w", i, seq[:4], seq[4:], err)
			}
			var uid string
			if v := item["00081155"].Value; len(v) != 1 || json.Unmarshal(v[0], &uid) != nil || !dicomkit.ValidUID(uid) {
				return nil, fmt.Errorf("STOW-RS answer: item %d of (%s,%s) names no valid SOP Instance UID", i, seq[:4], seq[4:])
			}
			if seq == "00081199" {
				res.Stored = append(res.Stored, uid)
				continue
			}
			reason := 0
			if v := item["00081197"].Value; len(v) > 0 {
				json.Unmarshal(v[0], &reason) // a reason that is not a number leaves 0: failed all the same
			}
			res.Failed[uid] = reason
		}
	}
	return res, nil
}

// FindInstances returns the Orthanc IDs of the instances with a SOP Instance UID (a search across the
// archive; roles that may search only).
func (c *Client) FindInstances(ctx context.Context, sopUID string) ([]string, error) {
	var ids []string
	err := c.call(ctx, http.MethodPost, "/api/orthanc/tools/find", nil,
		map[string]any{"Level": "Instance", "Query": map[string]string{"SOPInstanceUID": sopUID}}, &ids, true)
	return ids, err
}

// StudyArchiveURL is the proxy's URL of a study's ZIP archive (for benchmarks and scripts).
func (c *Client) StudyArchiveURL(studyID string) string {
	u := *c.base
	u.Path += "/api/orthanc/studies/" + url.PathEscape(studyID) + "/archive"
	return u.String()
}
