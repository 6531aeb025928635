package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference/dicomseg"
)

// TestUnitAttachSendsTheSEGsImportedWithTheStudy: a DICOM SEG imported with a study (listed in Study.SEGs, not
// as a series) goes to Orthanc with the study's images when the study is attached to an order, rewritten for
// the order's patient, and the manifest confirms it with them.
func TestUnitAttachSendsTheSEGsImportedWithTheStudy(t *testing.T) {
	f, mp := newClinicFakes(t)
	ctx := context.Background()
	study, paths := geometricStudy(t)
	if sum, err := f.c.Import(ctx, []string{filepath.Dir(paths[0])}, nil); err != nil || sum.Imported != len(paths) {
		t.Fatalf("import the study: %+v %v", sum, err)
	}
	st, err := f.c.Study(ctx, study)
	if err != nil {
		t.Fatal(err)
	}
	ref := scanned(t, st.Series[0])
	path := filepath.Join(t.TempDir(), "seg.dcm")
	if err := dicomseg.Write(path, tumourRegions(ref.Grid), dicomseg.Options{Study: st, Reference: ref, Algorithm: "m1-demo 0.1"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := dicomseg.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := f.c.Import(ctx, []string{path}, nil); err != nil || sum.Imported != 1 {
		t.Fatalf("import the SEG: %+v %v", sum, err)
	}
	if st, err := f.c.Study(ctx, study); err != nil || len(st.SEGs) != 1 || len(st.Series) != 1 {
		t.Fatalf("the study before attaching: %v", err)
	}
	if err := f.e.AttachStudy(ctx, "ocs_0001", study, nil); err != nil {
		t.Fatal(err)
	}
	f.srv.mu.Lock()
	f.srv.studies[7] = []api.PatientStudy{{OrthancID: mp.id, StudyInstanceUID: study}}
	f.srv.mu.Unlock()
	f.clock.advance(time.Hour)
	if sum, err := f.e.Round(ctx, nil); err != nil || sum.OutboxLeft != 0 {
		t.Fatalf("round: %+v %v", sum, err)
	}
	id, _, err := identityOf(mp.fileOf(seg.SOPInstanceUID))
	if err != nil || id.PatientID != "P20270007" {
		t.Errorf("the SEG in Orthanc: %+v %v", id, err)
	}
	items, err := f.c.OrderOutbox(ctx, "ocs_0001")
	if err != nil || len(items) != 1 || !strings.Contains(items[0].Confirmation, fmt.Sprintf("%d instances confirmed by the manifest", len(paths)+1)) {
		t.Errorf("the attachment: %+v %v", items, err)
	}
}
