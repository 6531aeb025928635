package viewer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// TestScanKeepsSEGApart: a DICOM Segmentation beside a series becomes one of its study's SEGs, not a series.
func TestScanKeepsSEGApart(t *testing.T) {
	dir := t.TempDir()
	writeSeries(t, dir, stackOf(3, axial, Vec3{}, 2, func(k int) int { return k + 1 }))
	seg := slice{study: "1.9", series: "1.9.2", sop: "1.9.2.1", number: 1, rows: 2, cols: 2, values: []int{0, 1, 1, 0}}
	els := seg.elems(false)
	for i, e := range els {
		if e.Tag == tag.SOPClassUID {
			els[i] = el(tag.SOPClassUID, []string{SegmentationStorage})
		}
	}
	path := writeDICOM(t, filepath.Join(dir, "seg.dcm"), tsExplicit, els)
	res, err := Open(context.Background(), []string{dir})
	if err != nil || len(res.Rejected) != 0 || len(res.Studies) != 1 {
		t.Fatalf("open: %v, rejected %v, %d studies", err, res.Rejected, len(res.Studies))
	}
	st := res.Studies[0]
	if len(st.Series) != 1 || st.Series[0].UID != "1.9.1" || len(st.Series[0].Instances) != 3 {
		t.Errorf("series %+v", st.Series)
	}
	if len(st.SEGs) != 1 || st.SEGs[0].Path != path || st.SEGs[0].SeriesUID != "1.9.2" || st.SEGs[0].SOPInstanceUID != "1.9.2.1" {
		t.Errorf("SEGs %+v", st.SEGs)
	}
	if ex := Merge([]*Study{st, {UID: "1.8"}}); len(ex.SEGs) != 1 {
		t.Errorf("merged exam has %d SEGs", len(ex.SEGs))
	}
}
