package engine

import (
	"encoding/json"
	"testing"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// FuzzParseAttachment: an attachment is accepted only with an order, a valid study UID and a patient, and
// reads back the same.
func FuzzParseAttachment(f *testing.F) {
	f.Add([]byte(`{"order_id":"ocs_0001","study_uid":"1.2.840.113619.2.55","patient_id":7}`))
	f.Add([]byte(`{"order_id":"","study_uid":"x","patient_id":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAttachment(b)
		if err != nil {
			return
		}
		if a.OrderID == "" || !dicomkit.ValidUID(a.StudyUID) || a.PatientID <= 0 {
			t.Fatalf("accepted %+v", a)
		}
		again, _ := json.Marshal(a)
		if b, err := ParseAttachment(again); err != nil || *b != *a {
			t.Fatalf("round trip %+v → %+v %v", a, b, err)
		}
	})
}
