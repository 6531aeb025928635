package engine

import (
	"testing"

	"github.com/neuronova/neuronova/internal/testsvc"
)

// FuzzParseReport: a report payload is accepted only with a safe order ID and a JSON worker result.
func FuzzParseReport(f *testing.F) {
	f.Add([]byte(`{"order_id":"ocs_0001","worker_result":{"findings":"mass"}}`))
	f.Add([]byte(`{"order_id":"../users","worker_result":{}}`))
	f.Add([]byte(`{"order_id":"ocs_0001"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if err != nil {
			return
		}
		if r.OrderID == "" || len(r.WorkerResult) == 0 {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// FuzzSegInfo: whatever bytes an outbox SEG holds, reading its SOP Instance UID and transfer syntax never
// panics, and a UID is only returned when the object carries one.
func FuzzSegInfo(f *testing.F) {
	f.Add(testsvc.DICOM(testsvc.Instance{PatientID: "P", StudyUID: "1.2.3", SeriesUID: "1.2.3.4", SOPUID: "1.2.3.4.5"}))
	f.Add([]byte("DICM"))
	f.Add(make([]byte, 132))
	f.Fuzz(func(t *testing.T, b []byte) {
		sop, sum, err := segInfo(b)
		if err == nil && (sop == "" || len(sum) != 32) {
			t.Fatalf("segInfo accepted %q / %q", sop, sum)
		}
		syntaxAndUID(b)
	})
}
