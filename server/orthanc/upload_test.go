package orthanc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/neuronova/neuronova/api"
)

// TestUploadSentAgainAfterACutConnection: the first request's connection is closed before its answer (as
// when Orthanc closes a kept-alive connection while the file is being written); Upload sends the file again
// and returns the second answer. A request cut every time fails after uploadTries.
func TestUploadSentAgainAfterACutConnection(t *testing.T) {
	var calls, cuts atomic.Int32
	var cutAll atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if cutAll.Load() || cuts.Load() == 0 {
			cuts.Add(1)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		b, _ := io.ReadAll(r.Body)
		if string(b) != "DICM file" {
			t.Errorf("body %q", b)
		}
		json.NewEncoder(w).Encode(map[string]string{"ID": api.OrthancID("1", "2", "3", "4"), "Status": "Success",
			"ParentPatient": api.OrthancID("1")})
	}))
	defer srv.Close()
	c, err := New(srv.URL, "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Upload(context.Background(), []byte("DICM file"))
	if err != nil || st.Status != "Success" || calls.Load() != 2 {
		t.Fatalf("Upload: %+v, %v after %d calls; want success on the second", st, err, calls.Load())
	}
	cutAll.Store(true)
	calls.Store(0)
	if _, err := c.Upload(context.Background(), []byte("DICM file")); err == nil || calls.Load() != uploadTries {
		t.Fatalf("Upload cut every time: %v after %d calls, want an error after %d", err, calls.Load(), uploadTries)
	}
}
