package viewer_test

import (
	"context"
	"testing"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
)

// TestOpenThirdPartySession opens the demo study written one study per series with labels.nii.gz beside:
// four studies of one patient, each with the label map, which group into one exam with the four sequences.
func TestOpenThirdPartySession(t *testing.T) {
	dir := t.TempDir()
	if err := demo.Write(dir, dcmwrite.StudyPerSeries()); err != nil {
		t.Fatal(err)
	}
	res, err := viewer.Open(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Studies) != 4 || len(res.Rejected) != 0 {
		t.Fatalf("%d studies, rejected %v", len(res.Studies), res.Rejected)
	}
	for _, st := range res.Studies {
		if st.Labels == nil || st.PatientID != demo.PatientID {
			t.Fatalf("study %s: labels %v", st.UID, st.Labels != nil)
		}
	}
	exams := viewer.GroupExams(res.Studies, viewer.ExamByDay)
	if len(exams) != 1 {
		t.Fatalf("%d exams, want 1", len(exams))
	}
	for _, typ := range viewer.BrainTumourTypes {
		se := exams[0].SeriesByType(typ)
		if se == nil || exams[0].StudyOf(se).UID != se.StudyUID || se.StudyUID == exams[0].Series[0].StudyUID && typ != exams[0].Series[0].Type {
			t.Errorf("%s: %v", typ, se)
		}
	}
}
