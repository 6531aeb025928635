package engine

import (
	"bytes"
	"encoding/binary"
	"runtime"
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

// FuzzSegInfo: whatever bytes an outbox SEG holds, reading its identity and transfer syntax never panics, and
// an identity is only returned with every UID.
func FuzzSegInfo(f *testing.F) {
	f.Add(testsvc.DICOM(testsvc.Instance{PatientID: "P", StudyUID: "1.2.3", SeriesUID: "1.2.3.4", SOPUID: "1.2.3.4.5"}))
	f.Add([]byte("DICM"))
	f.Add(make([]byte, 132))
	f.Add(hugeLength("OB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, sum, err := segInfo(b)
		if err == nil && (id.StudyUID == "" || id.SeriesUID == "" || id.SOPUID == "" || len(sum) != 32) {
			t.Fatalf("segInfo accepted %+v / %q", id, sum)
		}
		syntaxAndUID(bytes.NewReader(b), int64(len(b)))
	})
}

// hugeLength is a 236-byte DICOM file whose one element, of VR vr, declares 4 GiB.
func hugeLength(vr string) []byte {
	b := append(make([]byte, 128), "DICM"...)
	ts := "1.2.840.10008.1.2.1\x00"
	b = binary.LittleEndian.AppendUint32(b, 0x0010_0002)
	b = append(b, "UI"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(ts)))
	b = append(b, ts...)
	b = binary.LittleEndian.AppendUint32(b, 0x1010_0011)
	b = append(b, vr...)
	b = append(b, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, 0xFFFF_FFF0)
	return append(b, make([]byte, 64)...)
}

// TestHeaderRefusesHugeLength: a SEG or a pulled file declaring a 4 GiB value is refused before the DICOM
// library allocates it (each such call allocated 4 GiB, and a fuzz worker ran out of memory).
func TestHeaderRefusesHugeLength(t *testing.T) {
	for _, vr := range []string{"OB", "UN", "OW"} {
		b := hugeLength(vr)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, _, err := segInfo(b)
		ts, sop := syntaxAndUID(bytes.NewReader(b), int64(len(b)))
		runtime.ReadMemStats(&m1)
		if err == nil || ts != "" || sop != "" {
			t.Errorf("%s: segInfo %v, syntaxAndUID %q %q", vr, err, ts, sop)
		}
		if n := m1.TotalAlloc - m0.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: %d bytes allocated for a %d-byte file", vr, n, len(b))
		}
	}
}
