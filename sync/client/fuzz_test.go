package client

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseInstanceList: Orthanc's instance listing, whatever it holds, is parsed without panicking, and
// every entry accepted has a valid Orthanc ID, a SOP Instance UID and a positive size.
func FuzzParseInstanceList(f *testing.F) {
	f.Add([]byte(`[{"ID":"2f859814-2cf8fe4f-c7963e7d-d32c018d-66fc8cfa","FileSize":9830,"ParentSeries":"211fb9b0-46831f91-29422fb0-3d1353fd-1a2228a9","IndexInSeries":1,"MainDicomTags":{"SOPInstanceUID":"1.2.3"}}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"ID":"../../system","FileSize":1,"MainDicomTags":{"SOPInstanceUID":"1"}}]`))
	f.Add([]byte(`{"ID":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := ParseInstanceList(b)
		if err != nil {
			return
		}
		for _, in := range list {
			if !ValidOrthancID(in.ID) || in.SOPUID == "" || in.FileSize <= 0 {
				t.Fatalf("accepted %+v", in)
			}
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
