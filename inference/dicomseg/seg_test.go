package dicomseg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/bits"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
	"github.com/neuronova/neuronova/viewer/demo"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Run(m)) }

// demoDICOM writes the demo study as DICOM and reads it back: the reference series then has real images.
func demoDICOM(t *testing.T) (*viewer.Study, *viewer.LabelMap) {
	t.Helper()
	dir := t.TempDir()
	if err := demo.Write(dir); err != nil {
		t.Fatal(err)
	}
	res, err := viewer.Open(context.Background(), []string{dir})
	if err != nil || len(res.Studies) != 1 {
		t.Fatalf("open demo DICOM: %v (%d studies)", err, len(res.Studies))
	}
	st := res.Studies[0]
	if st.Labels == nil {
		t.Fatal("labels.nii.gz not attached to the study")
	}
	return st, st.Labels
}

func TestSEGPassesDciodvfyAndOrthancStoresIt(t *testing.T) {
	st, labels := demoDICOM(t)
	ref := st.SeriesByType(viewer.T1CE)
	labels.Geometry = ref.Grid // the NIfTI affine round trip is within rounding of the DICOM grid
	path := filepath.Join(t.TempDir(), "seg.dcm")
	banner := "DEMONSTRATION MODEL — trained on synthetic phantoms — not for clinical use"
	if err := Write(path, labels, Options{Study: st, Reference: ref, Algorithm: "m1-demo 1.0.0", Banner: banner,
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}

	// Read back: every tumour voxel is one set bit, frames reference the source images, the banner shows.
	ds, err := dicom.ParseFile(path, nil, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		t.Fatal(err)
	}
	str := func(tg tag.Tag) string {
		e, err := ds.FindElementByTag(tg)
		if err != nil {
			t.Fatalf("%v: %v", tg, err)
		}
		return strings.Join(e.Value.GetValue().([]string), `\`)
	}
	if !strings.Contains(strings.ToLower(str(tag.SeriesDescription)), "not for clinical use") ||
		!strings.Contains(strings.ToLower(str(tag.ContentDescription)), "not for clinical use") {
		t.Errorf("banner missing: %q / %q", str(tag.SeriesDescription), str(tag.ContentDescription))
	}
	if str(tag.Modality) != "SEG" || str(tag.StudyInstanceUID) != st.UID {
		t.Errorf("modality %s, study %s", str(tag.Modality), str(tag.StudyInstanceUID))
	}
	pe, err := ds.FindElementByTag(tag.PixelData)
	if err != nil {
		t.Fatal(err)
	}
	raw := pe.Value.GetValue().(dicom.PixelDataInfo).UnprocessedValueData
	set := 0
	for _, b := range raw {
		set += bits.OnesCount8(b)
	}
	c := labels.Counts()
	if want := c[1] + c[2] + c[3]; set != want || want == 0 {
		t.Errorf("%d bits set, %d tumour voxels", set, want)
	}

	// dciodvfy: no errors.
	if warnings := dcmcheck.Dciodvfy(t, path); len(warnings) > 0 {
		t.Errorf("dciodvfy warnings: %v", warnings)
	}

	// Orthanc stores it as a SEG series of the study.
	url, user, pass := testsvc.Orthanc(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url+"/instances", bytes.NewReader(data))
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var stored struct{ Status, ID, ParentSeries string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &stored) != nil || stored.Status != "Success" {
		t.Fatalf("Orthanc: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", url+"/series/"+stored.ParentSeries, nil)
	req.SetBasicAuth(user, pass)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var series struct{ MainDicomTags map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&series); err != nil || series.MainDicomTags["Modality"] != "SEG" {
		t.Fatalf("Orthanc series: %v %v", err, series.MainDicomTags)
	}
}

func TestSEGRefusesWhatItCannotReference(t *testing.T) {
	st := demo.Study() // in memory: no DICOM images
	ref := st.SeriesByType(viewer.T1CE)
	if _, err := Build(st.Labels, Options{Study: st, Reference: ref, Algorithm: "x"}); !errors.Is(err, ErrNoSourceImages) {
		t.Errorf("in-memory reference: %v", err)
	}
	small := viewer.NewLabelMap(viewer.Geometry{Size: [3]int{2, 2, 2}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection})
	ref2 := *ref
	ref2.Instances = []*viewer.Instance{{SOPInstanceUID: "1.2.3", HasPosition: true}}
	if _, err := Build(small, Options{Study: st, Reference: &ref2, Algorithm: "x"}); err == nil || !strings.Contains(err.Error(), "grid") {
		t.Errorf("label map off the reference grid: %v", err)
	}
}
