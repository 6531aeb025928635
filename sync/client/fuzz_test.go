package client

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseManifest: the server's study manifest, whatever it holds, is parsed without panicking, and every
// entry accepted has a valid Orthanc ID, UIDs, a positive size and an MD5 of 32 hex digits.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"orthanc_id":"211fb9b0-46831f91-29422fb0-3d1353fd-1a2228a9","study_instance_uid":"1.2","instances":[{"orthanc_id":"2f859814-2cf8fe4f-c7963e7d-d32c018d-66fc8cfa","sop_instance_uid":"1.2.3","series_instance_uid":"1.2.4","size":9830,"md5":"86ecb6d98939d8c2ecb51a154bdd6e7e"}]}`))
	f.Add([]byte(`{"orthanc_id":"211fb9b0-46831f91-29422fb0-3d1353fd-1a2228a9","study_instance_uid":"1.2","instances":[]}`))
	f.Add([]byte(`{"orthanc_id":"../../system","instances":[{"orthanc_id":"x","size":-1,"md5":"zz"}]}`))
	f.Add([]byte(`[1]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, in := range m.Instances {
			if !ValidOrthancID(in.OrthancID) || !validUID(in.SOPInstanceUID) || !validUID(in.SeriesInstanceUID) || in.Size <= 0 ||
				len(in.MD5) != 32 || seen[in.SOPInstanceUID] {
				t.Fatalf("accepted %+v", in)
			}
			seen[in.SOPInstanceUID] = true
		}
	})
}

// FuzzReadError: any error answer becomes an *api.Error with a code and the status.
func FuzzReadError(f *testing.F) {
	f.Add(409, []byte(`{"code":"CONFLICT","message":"reused key"}`))
	f.Add(502, []byte(`<html>bad gateway</html>`))
	f.Add(401, []byte(`{"code":"LOGIN_FAIL","message":"wrong","remain":2}`))
	f.Add(500, []byte{})
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 400 || status > 599 {
			return
		}
		resp := &http.Response{StatusCode: status, Status: http.StatusText(status), Body: io.NopCloser(bytes.NewReader(body))}
		e := readError(resp)
		if e.Code == "" || e.Status != status || strings.TrimSpace(e.Error()) == "" {
			t.Fatalf("error %+v from %d %q", e, status, body)
		}
	})
}
