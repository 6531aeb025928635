package httpapi

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzResultStudy: any worker result gives the study UID it names or "", never a panic; a (UTF-8) UID read
// back is the one a result that names it was written with.
func FuzzResultStudy(f *testing.F) {
	f.Add([]byte(`{"_template":"RIS","dicom":{"study_uid":"1.2.3","series":[]}}`), "1.2.3")
	f.Add([]byte(`{"dicom":"x"}`), "")
	f.Add([]byte(`null`), "")
	f.Fuzz(func(t *testing.T, raw []byte, uid string) {
		resultStudy(raw)
		b, err := json.Marshal(map[string]any{"dicom": map[string]any{"study_uid": uid}})
		if err != nil {
			return
		}
		if got := resultStudy(b); got != uid && utf8.ValidString(uid) {
			t.Fatalf("result naming %q read as %q", uid, got)
		}
	})
}
