package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/measure"
)

// TestUnitRelaySendsMeasurementReportsToOrthanc: a measurement report (DICOM SR, outbox kind result.sr)
// goes to Orthanc through the server like a SEG, is confirmed by its SOP Instance UID and MD5, and is not
// counted as a SEG.
func TestUnitRelaySendsMeasurementReportsToOrthanc(t *testing.T) {
	f := newOnFakes(t, Options{NoPrefetch: true})
	ctx := context.Background()
	study := localStudy(t, f.c)
	st, err := f.c.Study(ctx, study)
	if err != nil {
		t.Fatal(err)
	}
	in := st.Series[0].Instances[0]
	m := measure.Measurement{ID: "m1", Kind: measure.KindLength, StudyUID: study, SeriesUID: st.Series[0].UID,
		Image:   &measure.ImageRef{SOPInstanceUID: in.SOPInstanceUID, SOPClassUID: in.SOPClassUID, Pixels: []measure.Point{{X: 1, Y: 1}, {X: 4, Y: 5}}},
		Patient: []viewer.Vec3{{0, 0, 0}, {3, 4, 0}}, Length: 5, Points: []measure.Point{{X: 1, Y: 1}, {X: 4, Y: 5}}}
	elems, err := dcmwrite.MeasurementReport(st, []measure.Measurement{m}, dcmwrite.SROptions{Observer: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := dcmwrite.Encode(&b, elems); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.RecordResults(ctx, study, []cache.ResultInput{{Kind: "sr", Payload: b.Bytes()}}); err != nil {
		t.Fatal(err)
	}
	sum, err := f.e.Round(ctx, nil)
	if err != nil || sum.Pushed != 1 || sum.SEGs != 0 || sum.Dead != 0 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	sop := ""
	for _, e := range elems {
		if e.Tag.Group == 0x0008 && e.Tag.Element == 0x0018 {
			sop = e.Value.GetValue().([]string)[0]
		}
	}
	items := outbox(t, f.c)
	if len(items) != 1 || items[0].Kind != "result.sr" || items[0].SentAt.IsZero() || !strings.Contains(items[0].Confirmation, sop) {
		t.Fatalf("outbox after the round: %+v", items)
	}
	f.pacs.mu.Lock()
	stored := 0
	for _, file := range f.pacs.stored {
		if bytes.Equal(file, b.Bytes()) {
			stored++
		}
	}
	f.pacs.mu.Unlock()
	if stored != 1 {
		t.Fatalf("Orthanc holds the report %d times", stored)
	}
}
