package client

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/dicomkit"
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
			if !api.ValidOrthancID(in.OrthancID) || !dicomkit.ValidUID(in.SOPInstanceUID) || !dicomkit.ValidUID(in.SeriesInstanceUID) || in.Size <= 0 ||
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

// stowAnswer is a STOW-RS answer as Orthanc writes it: one instance stored, one failed (0xC000).
const stowAnswer = `{"00081190":{"vr":"UR","Value":["http://127.0.0.1:8042/dicom-web/studies/1.2.3"]},
"00081198":{"vr":"SQ","Value":[{"00081150":{"vr":"UI","Value":["1.2.840.10008.5.1.4.1.1.4"]},"00081155":{"vr":"UI","Value":["1.2.3.4.6"]},"00081197":{"vr":"US","Value":[49152]}}]},
"00081199":{"vr":"SQ","Value":[{"00081150":{"vr":"UI","Value":["1.2.840.10008.5.1.4.1.1.4"]},"00081155":{"vr":"UI","Value":["1.2.3.4.5"]},"00081190":{"vr":"UR","Value":["http://127.0.0.1:8042/dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5"]}}]}}`

// FuzzParseStowAnswer: any STOW-RS answer is parsed without panicking, and every UID it accepts, stored or
// failed, is a DICOM UID.
func FuzzParseStowAnswer(f *testing.F) {
	f.Add([]byte(stowAnswer))
	f.Add([]byte(`{"00081199":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["../../x"]}}]}}`))
	f.Add([]byte(`{"00081198":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["1.2"]},"00081197":{"vr":"US","Value":["x"]}}]}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseStowAnswer(b)
		if err != nil {
			return
		}
		for _, uid := range r.Stored {
			if !dicomkit.ValidUID(uid) {
				t.Fatalf("stored %q accepted", uid)
			}
		}
		for uid := range r.Failed {
			if !dicomkit.ValidUID(uid) {
				t.Fatalf("failed %q accepted", uid)
			}
		}
	})
}

func TestParseStowAnswer(t *testing.T) {
	r, err := ParseStowAnswer([]byte(stowAnswer))
	if err != nil || len(r.Stored) != 1 || r.Stored[0] != "1.2.3.4.5" || len(r.Failed) != 1 || r.Failed["1.2.3.4.6"] != 0xC000 {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{`{"00081199":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["1.2.x"]}}]}}`,
		`{"00081199":{"vr":"SQ","Value":[{}]}}`, `{"00081199":{"vr":"SQ","Value":[1]}}`, `not json`} {
		if r, err := ParseStowAnswer([]byte(bad)); err == nil {
			t.Errorf("%s accepted: %+v", bad, r)
		}
	}
}

// TestParseManifestUsesTheDICOMUIDRule: the manifest's UIDs follow the one rule of dicomkit (the server's
// proxy refuses the others in its paths), so a UID with a leading-zero component or a single component is
// refused here too, naming the entry.
func TestParseManifestUsesTheDICOMUIDRule(t *testing.T) {
	entry := func(sop string) []byte {
		return []byte(`{"orthanc_id":"211fb9b0-46831f91-29422fb0-3d1353fd-1a2228a9","study_instance_uid":"1.2","instances":[` +
			`{"orthanc_id":"2f859814-2cf8fe4f-c7963e7d-d32c018d-66fc8cfa","sop_instance_uid":"` + sop +
			`","series_instance_uid":"1.2.4","size":9830,"md5":"86ecb6d98939d8c2ecb51a154bdd6e7e"}]}`)
	}
	if _, err := ParseManifest(entry("1.2.3")); err != nil {
		t.Fatalf("a valid manifest: %v", err)
	}
	for _, sop := range []string{"1.02.3", "123", "1..2", "1.2."} {
		if _, err := ParseManifest(entry(sop)); err == nil {
			t.Errorf("SOP Instance UID %q accepted", sop)
		}
	}
}
