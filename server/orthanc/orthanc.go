// Package orthanc talks to the hospital's Orthanc: the client the server uses for its own calls (readiness,
// study lookups, the patient-ownership checks of the proxy, the demo upload) and the validation of what the
// proxy forwards (resource IDs, UIDs, query strings, transcoding requests). Orthanc's credentials stay here.
package orthanc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// Client calls one Orthanc with basic authentication.
type Client struct {
	base     *url.URL
	user     string
	password string
	http     *http.Client
}

// New returns a client of the Orthanc at baseURL (for example http://127.0.0.1:8042).
func New(baseURL, user, password string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("orthanc URL %q must be http(s)://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 120 * time.Second, // the seed's proxy timeout for DICOM routes
		DisableCompression:    true,              // pass bytes through as Orthanc sends them
		ReadBufferSize:        256 << 10,         // studies stream through: a few large reads rather than many 4 KiB ones
	}
	return &Client{base: u, user: user, password: password, http: &http.Client{Transport: transport}}, nil
}

// CloseIdleConnections drops the kept-alive connections to Orthanc (after it restarted, or moved).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// URL returns Orthanc's base URL without credentials.
func (c *Client) URL() string { return c.base.String() }

// Do sends one request to Orthanc; path must already be validated. The caller closes the response body.
func (c *Client) Do(ctx context.Context, method, path, rawQuery string, header http.Header, body io.Reader, length int64) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = rawQuery
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("orthanc request %s %s: %w", method, path, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil {
		req.ContentLength = length
	}
	req.SetBasicAuth(c.user, c.password)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", server.Errorf(api.CodeUnavailable, "orthanc does not answer"), err)
	}
	return resp, nil
}

// rawText is a request body sent as it is (the UID of /tools/lookup), not as JSON.
type rawText string

// callJSON calls Orthanc and decodes a JSON answer into out. A 404 becomes CodeNotFound.
func (c *Client) callJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	var length int64
	header := http.Header{"Accept": {"application/json"}}
	switch v := in.(type) {
	case nil:
	case rawText:
		body, length = strings.NewReader(string(v)), int64(len(v))
		header.Set("Content-Type", "text/plain")
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, length = bytes.NewReader(b), int64(len(b))
		header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(ctx, method, path, "", header, body, length)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return Refusal(resp, method, path, false)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out); err != nil {
		return fmt.Errorf("%w: decode %s: %w", server.Errorf(api.CodeBadGateway, "orthanc sent unreadable JSON for %s", path), path, err)
	}
	return nil
}

// Refusal is the one mapping of a non-2xx answer of Orthanc to the API's error: 404 is NOT_FOUND; 400, 406
// and 415 are INVALID when the request was the client's (forwarded by the proxy) and BAD_GATEWAY when the
// server made it (the client cannot fix it); anything else is BAD_GATEWAY. Orthanc's own words are wrapped
// for the log. It reads at most 4 KiB of the body.
func Refusal(resp *http.Response, method, path string, forwarded bool) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var oe struct{ Message, OrthancError, Details string }
	_ = json.Unmarshal(raw, &oe) // Orthanc answers JSON; when it does not, the status alone speaks
	why := strings.TrimSpace(strings.Join([]string{oe.OrthancError, oe.Details}, " "))
	cause := fmt.Errorf("orthanc answered %s %s with %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", server.Errorf(api.CodeNotFound, "orthanc has no %s", path), cause)
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusNotAcceptable:
		if forwarded {
			return fmt.Errorf("%w: %w", server.Errorf(api.CodeInvalid, "orthanc refused %s %s: %s", method, path, why), cause)
		}
	}
	return fmt.Errorf("%w: %w", server.Errorf(api.CodeBadGateway, "orthanc failed %s %s (%d)", method, path, resp.StatusCode), cause)
}

// System checks that Orthanc answers and that the credentials work; it returns Orthanc's version.
func (c *Client) System(ctx context.Context) (string, error) {
	var sys struct{ Version string }
	if err := c.callJSON(ctx, http.MethodGet, "/system", nil, &sys); err != nil {
		return "", err
	}
	return sys.Version, nil
}

// PatientIDOf returns the DICOM PatientID of an Orthanc resource (level studies, series or instances).
func (c *Client) PatientIDOf(ctx context.Context, level, id string) (string, error) {
	if level != "studies" && level != "series" && level != "instances" {
		return "", fmt.Errorf("resource level %q is not studies, series or instances", level)
	}
	if !api.ValidOrthancID(id) {
		return "", server.Errorf(api.CodeInvalid, "%q is not an Orthanc resource ID", id)
	}
	var p struct{ MainDicomTags map[string]string }
	if err := c.callJSON(ctx, http.MethodGet, "/"+level+"/"+id+"/patient", nil, &p); err != nil {
		return "", err
	}
	return p.MainDicomTags["PatientID"], nil
}

// ResourceTypes maps the resource types of /tools/lookup to their REST levels.
var ResourceTypes = map[string]string{"Study": "studies", "Series": "series", "Instance": "instances"}

// ResourcesByUID returns the Orthanc IDs of every resource of type typ (Study, Series or Instance) with a DICOM
// UID, none when Orthanc has none. One UID may name several resources: Orthanc keys a study by its PatientID
// and StudyInstanceUID together, so the same UID stored under two PatientIDs is two studies.
func (c *Client) ResourcesByUID(ctx context.Context, uid, typ string) ([]string, error) {
	if !ValidUID(uid) {
		return nil, server.Errorf(api.CodeInvalid, "%q is not a DICOM UID", uid)
	}
	if _, ok := ResourceTypes[typ]; !ok {
		return nil, fmt.Errorf("resource type %q is not Study, Series or Instance", typ)
	}
	var found []struct {
		ID   string
		Type string
	}
	if err := c.callJSON(ctx, http.MethodPost, "/tools/lookup", rawText(uid), &found); err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range found {
		if f.Type == typ && api.ValidOrthancID(f.ID) {
			ids = append(ids, f.ID)
		}
	}
	return ids, nil
}

// findUIDs is how many SOP Instance UIDs one search of InstancesByUIDs names, and findLimit the most answers
// it takes as complete: an answer that long may have been cut short, and its UIDs are then looked up one by
// one. (Orthanc's own cap on instance searches, LimitFindInstances, must exceed findLimit; deploy/ sets 20000.)
const (
	findUIDs  = 50
	findLimit = 100
)

// InstancesByUIDs returns the Orthanc IDs of the instances Orthanc holds under each of the SOP Instance UIDs
// (a UID it does not hold is absent). One /tools/find names up to findUIDs of them as a list of values, which
// matches any of them: an upload of many new instances costs one call where ResourcesByUID costs one per UID.
func (c *Client) InstancesByUIDs(ctx context.Context, uids []string) (map[string][]string, error) {
	out := map[string][]string{}
	for chunk := range slices.Chunk(uids, findUIDs) {
		for _, uid := range chunk {
			if !ValidUID(uid) {
				return nil, server.Errorf(api.CodeInvalid, "%q is not a DICOM UID", uid)
			}
		}
		var found []struct {
			ID            string
			MainDicomTags struct{ SOPInstanceUID string }
		}
		q := map[string]any{"Level": "Instance", "Expand": true, "Limit": findLimit,
			"Query": map[string]string{"SOPInstanceUID": strings.Join(chunk, `\`)}}
		if err := c.callJSON(ctx, http.MethodPost, "/tools/find", q, &found); err != nil {
			return nil, err
		}
		if len(found) >= findLimit {
			for _, uid := range chunk {
				ids, err := c.ResourcesByUID(ctx, uid, "Instance")
				if err != nil {
					return nil, err
				}
				if len(ids) > 0 {
					out[uid] = ids
				}
			}
			continue
		}
		for _, f := range found {
			if uid := f.MainDicomTags.SOPInstanceUID; slices.Contains(chunk, uid) && api.ValidOrthancID(f.ID) {
				out[uid] = append(out[uid], f.ID)
			}
		}
	}
	return out, nil
}

// StudiesOf returns the studies whose PatientID is patientID.
func (c *Client) StudiesOf(ctx context.Context, patientID string) ([]api.PatientStudy, error) {
	if !ValidPatientID(patientID) {
		return nil, server.Errorf(api.CodeInvalid, "%q cannot be searched as a PatientID", patientID)
	}
	var studies []struct {
		ID            string
		MainDicomTags map[string]string
		Series        []string
	}
	q := map[string]any{"Level": "Study", "Expand": true, "Query": map[string]string{"PatientID": patientID}}
	if err := c.callJSON(ctx, http.MethodPost, "/tools/find", q, &studies); err != nil {
		return nil, err
	}
	out := make([]api.PatientStudy, 0, len(studies))
	for _, s := range studies {
		out = append(out, api.PatientStudy{OrthancID: s.ID, StudyInstanceUID: s.MainDicomTags["StudyInstanceUID"],
			StudyDate: s.MainDicomTags["StudyDate"], Description: s.MainDicomTags["StudyDescription"],
			AccessionNumber: s.MainDicomTags["AccessionNumber"], Series: s.Series})
	}
	return out, nil
}

// Stored is Orthanc's answer to an upload.
type Stored struct {
	ID            string
	Status        string // Success or AlreadyStored
	ParentPatient string
	ParentStudy   string
	ParentSeries  string
}

// uploadTries is how many times Upload sends a file whose request failed on the way.
const uploadTries = 3

// Upload stores one DICOM file. A request that fails on the way (a kept-alive connection Orthanc closed
// while the file was being written: a broken pipe) is sent again, up to uploadTries times: storing a file twice
// is harmless, Orthanc answers AlreadyStored.
func (c *Client) Upload(ctx context.Context, dicom []byte) (Stored, error) {
	var resp *http.Response
	var err error
	for try := 1; ; try++ {
		resp, err = c.Do(ctx, http.MethodPost, "/instances", "", http.Header{"Content-Type": {"application/dicom"}},
			bytes.NewReader(dicom), int64(len(dicom)))
		if err == nil || try == uploadTries || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return Stored{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Stored{}, fmt.Errorf("read orthanc's upload answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return Stored{}, fmt.Errorf("orthanc refused the upload: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return ParseStored(body)
}

// ParseStored reads Orthanc's answer to POST /instances.
func ParseStored(body []byte) (Stored, error) {
	var s Stored
	if err := json.Unmarshal(body, &s); err != nil {
		return Stored{}, fmt.Errorf("orthanc's upload answer is not JSON: %w", err)
	}
	if !api.ValidOrthancID(s.ID) || !api.ValidOrthancID(s.ParentPatient) {
		return Stored{}, fmt.Errorf("orthanc's upload answer lacks the instance or patient ID: %.200s", body)
	}
	return s, nil
}

// PatientResourceID returns the Orthanc ID of the patient with a DICOM PatientID (api.OrthancID).
func PatientResourceID(patientID string) string { return api.OrthancID(patientID) }
