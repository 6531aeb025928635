package render

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

// goldenGrid is the phantom of the golden images: 64 × 56 × 24 voxels of 1 × 1 × 2 mm along L, P, S.
var goldenGrid = patientGrid{
	size:    [3]int{64, 56, 24},
	spacing: viewer.Vec3{1, 1, 2},
	corner:  viewer.Vec3{-32, -28, -24},
}

// updateGolden regenerates the golden images instead of comparing with them.
var updateGolden = os.Getenv("NEURONOVA_UPDATE_GOLDEN") == "1"

// assertGolden compares img pixel by pixel with testdata/name.png. On a mismatch it writes img to
// testdata/failed/name.png (ignored by git). NEURONOVA_UPDATE_GOLDEN=1 rewrites the golden instead.
func assertGolden(t *testing.T, name string, img image.Image) {
	t.Helper()
	path := filepath.Join("testdata", name+".png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if updateGolden {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with NEURONOVA_UPDATE_GOLDEN=1 to create it)", path, err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatalf("golden %s: %v", path, err)
	}
	if msg := diffImages(img, want); msg != "" {
		failed := filepath.Join("testdata", "failed", name+".png")
		if err := os.MkdirAll(filepath.Dir(failed), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(failed, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Errorf("%s differs from its golden: %s; actual image written to %s", name, msg, failed)
	}
}

func diffImages(got, want image.Image) string {
	if got.Bounds().Size() != want.Bounds().Size() {
		return fmt.Sprintf("size %v, golden %v", got.Bounds().Size(), want.Bounds().Size())
	}
	n, first := 0, ""
	gb, wb := got.Bounds(), want.Bounds()
	for y := 0; y < gb.Dy(); y++ {
		for x := 0; x < gb.Dx(); x++ {
			gr, gg, gbl, ga := got.At(gb.Min.X+x, gb.Min.Y+y).RGBA()
			wr, wg, wbl, wa := want.At(wb.Min.X+x, wb.Min.Y+y).RGBA()
			if gr != wr || gg != wg || gbl != wbl || ga != wa {
				if n == 0 {
					first = fmt.Sprintf("first at (%d, %d): %04x %04x %04x %04x, golden %04x %04x %04x %04x",
						x, y, gr, gg, gbl, ga, wr, wg, wbl, wa)
				}
				n++
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d pixels differ, %s", n, first)
}

// TestGolden renders each plane of the phantom (identity acquisition): plain through the bright marker,
// which sits in the patient's left-anterior-superior quadrant (screen top right in axial and coronal, top
// left in sagittal); with a translucent overlay and as outlines through the tumour centre, which is right,
// posterior and superior of the middle. The one magenta voxel is an undescribed label value.
func TestGolden(t *testing.T) {
	g := goldenGrid.geometry(acqIdentity)
	v := goldenGrid.fill(g, headPhantom(goldenGrid, 1))
	m := goldenGrid.labels(g, tumourLabels(goldenGrid))
	lut := mustLUT(t, viewer.Window{Center: 800, Width: 1400}, false)
	var marker, tumour viewer.Vec3 // voxel positions
	for a := range marker {
		n := float64(goldenGrid.size[a] - 1)
		marker[a] = (markerCentre[a] + 1) / 2 * n
		tumour[a] = tumourFraction[a] * n
	}
	for o := Axial; o <= Sagittal; o++ {
		p := mustPlane(t, g, o)
		slice, _ := p.NearestSlice(g.ToPatient(marker))
		grey := image.NewGray(p.Bounds())
		if err := p.RenderGray(grey, v, slice, lut); err != nil {
			t.Fatal(err)
		}
		assertGolden(t, o.String(), grey)

		slice, _ = p.NearestSlice(g.ToPatient(tumour))
		for _, style := range []struct {
			name string
			ov   *Overlay
		}{
			{"overlay", &Overlay{Map: m, Opacity: 0.5}},
			{"outline", &Overlay{Map: m, Opacity: 1, Outline: true}},
		} {
			rgba := image.NewRGBA(p.Bounds())
			if err := p.RenderRGBA(rgba, v, slice, lut, style.ov); err != nil {
				t.Fatal(err)
			}
			assertGolden(t, o.String()+"_"+style.name, rgba)
		}
	}
}
