package cache

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/viewer"
)

// rescanned reads the files of a cached series again, as the window does before it writes or places a SEG
// (the cache lists instances without positions).
func rescanned(t *testing.T, se *viewer.Series) *viewer.Series {
	t.Helper()
	paths := make([]string, len(se.Instances))
	for i, in := range se.Instances {
		paths[i] = in.Path
	}
	res, err := viewer.Scan(context.Background(), paths)
	if err != nil || len(res.Studies) != 1 || len(res.Studies[0].Series) != 1 {
		t.Fatalf("scan series %s: %v", se.UID, err)
	}
	return res.Studies[0].Series[0]
}

// regions is a label map on g with a block of each tumour label, some slices without any.
func regions(g viewer.Geometry) *viewer.LabelMap {
	m := viewer.NewLabelMap(g)
	for k := 2; k < g.Size[2]-2; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				switch {
				case (i-15)*(i-15)+(j-18)*(j-18) <= 9:
					m.Data[g.Index(i, j, k)] = viewer.LabelNCR
				case (i-15)*(i-15)+(j-18)*(j-18) <= 25:
					m.Data[g.Index(i, j, k)] = viewer.LabelET
				case i > 25 && j < 10 && k%3 != 0:
					m.Data[g.Index(i, j, k)] = viewer.LabelED
				}
			}
		}
	}
	return m
}

// TestCachedStudyListsItsSEGs: a SEG imported with its study is one of the cached study's SEGs (its file in
// the store, its series UID, number and description), not a series; the image series are those imported
// before it, and the SEG read from the cache places the label map it was written from voxel for voxel.
func TestCachedStudyListsItsSEGs(t *testing.T) {
	ctx := context.Background()
	c := openCache(t, filepath.Join(t.TempDir(), "cache"))
	dir, _ := smallStudy(t, 71)
	sum, err := c.Import(ctx, []string{dir}, nil)
	if err != nil || len(sum.Studies) != 1 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	uid := sum.Studies[0]
	before, err := c.Study(ctx, uid)
	if err != nil || len(before.Series) == 0 || len(before.SEGs) != 0 {
		t.Fatalf("study before the SEG: %v, %d series, %d SEGs", err, len(before.Series), len(before.SEGs))
	}
	ref := rescanned(t, before.Series[0])
	m := regions(ref.Grid)
	segPath := filepath.Join(t.TempDir(), "seg.dcm")
	opts := dicomseg.Options{Study: before, Reference: ref, Algorithm: "cache test 1.0", SeriesNumber: 905}
	if err := dicomseg.Write(segPath, m, opts); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(segPath)
	if err != nil {
		t.Fatal(err)
	}
	written, err := dicomseg.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := c.Import(ctx, []string{segPath}, nil); err != nil || sum.Imported != 1 || len(sum.Rejected) != 0 {
		t.Fatalf("import the SEG: %+v %v", sum, err)
	}

	st, err := c.OpenStudy(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.SEGs) != 1 {
		t.Fatalf("SEGs %+v", st.SEGs)
	}
	f := st.SEGs[0]
	if f.SeriesUID != written.SeriesUID || f.SOPInstanceUID != written.SOPInstanceUID || f.SeriesNumber != 905 || f.Description == "" ||
		!strings.HasPrefix(f.Path, c.dir) {
		t.Errorf("SEG %+v, wrote series %s instance %s", f, written.SeriesUID, written.SOPInstanceUID)
	}
	uids := func(s *viewer.Study) []string {
		var out []string
		for _, se := range s.Series {
			out = append(out, se.UID)
			for _, in := range se.Instances {
				if in.IsSEG() {
					t.Errorf("series %s lists the SEG instance %s", se.UID, in.SOPInstanceUID)
				}
			}
		}
		return out
	}
	if got, want := uids(st), uids(before); !slices.Equal(got, want) {
		t.Errorf("series %v, want %v (those before the SEG)", got, want)
	}

	stored, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	// Export writes the SEG too, as a series after the images.
	out := filepath.Join(t.TempDir(), "export")
	rep, err := c.Export(ctx, uid, out, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exported, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("SE%03d", len(st.Series)+1), "IM0001.dcm"))
	if err != nil || !bytes.Equal(exported, stored) || rep.Series != len(st.Series)+1 || rep.Files != len(dicomFiles(t, dir))+1 {
		t.Errorf("export %+v: the SEG %v", rep, err)
	}
	s, err := dicomseg.Parse(stored)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LabelMap(rescanned(t, st.Series[0]))
	if err != nil {
		t.Fatal(err)
	}
	diff, labelled := 0, 0
	for i := range m.Data {
		if got.Data[i] != m.Data[i] {
			diff++
		}
		if m.Data[i] != 0 {
			labelled++
		}
	}
	if len(got.Data) != len(m.Data) || diff != 0 || labelled == 0 {
		t.Errorf("the SEG from the cache: %d of %d voxels differ (%d labelled)", diff, len(m.Data), labelled)
	}
}
