package m1_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/onnxpb"
	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/viewer"
)

// MONAI's dense_patch_slices: windows every ROI·(1 − overlap), the last flush with the end.
func TestStarts(t *testing.T) {
	tests := []struct {
		n, roi  int
		overlap float64
		want    []int
	}{
		{240, 64, 0.25, []int{0, 48, 96, 144, 176}},
		{155, 64, 0.5, []int{0, 32, 64, 91}},
		{64, 64, 0.25, []int{0}},
		{40, 64, 0.25, []int{0}},
		{100, 64, 0, []int{0, 36}},
		{65, 64, 0.99, []int{0, 1}},
	}
	for _, tc := range tests {
		if got := m1.Starts(tc.n, tc.roi, tc.overlap); !slices.Equal(got, tc.want) {
			t.Errorf("Starts(%d, %d, %v) = %v, want %v", tc.n, tc.roi, tc.overlap, got, tc.want)
		}
	}
}

func TestImportance(t *testing.T) {
	w := m1.Windows{ROI: [3]int{16, 8, 4}, Blend: model.BlendGaussian}
	imp := w.Importance()
	centre := imp[8+16*(4+8*2)]
	if centre != 1 {
		t.Errorf("centre weight %v, want 1", centre)
	}
	// SD 0.125·16 = 2 along x: one SD from the centre weighs exp(−1/2).
	if got := imp[10+16*(4+8*2)]; math.Abs(float64(got)-math.Exp(-0.5)) > 1e-6 {
		t.Errorf("weight two voxels from the centre along x %v, want %v", got, math.Exp(-0.5))
	}
	if got := imp[0]; got != 1e-3 {
		t.Errorf("corner weight %v, want the 1e-3 floor", got)
	}
	for _, v := range (m1.Windows{ROI: [3]int{4, 4, 4}, Blend: model.BlendConstant}).Importance() {
		if v != 1 {
			t.Fatalf("constant weight %v", v)
		}
	}
}

// The windows cover the grid, batches go to the network together, progress comes per batch, flips are undone
// before averaging, and cancelling stops the run.
func TestWindowsRun(t *testing.T) {
	size := [3]int{23, 17, 9}
	n := size[0] * size[1] * size[2]
	in := make([]float32, n)
	for i := range in {
		in[i] = float32(i % 23) // x
	}
	// The network: out(x) = in(x − 1) inside each window, 0 at its first column. With an x flip as well, the
	// average of in(x − 1) and in(x + 1) is x wherever neither falls off the window.
	shift := func(ctx context.Context, x []float32, b int) ([]float32, error) {
		out := make([]float32, len(x))
		for r := 0; r < len(x)/8; r++ {
			for i := 1; i < 8; i++ {
				out[r*8+i] = x[r*8+i-1]
			}
		}
		return out, nil
	}
	var calls, batches []int
	w := m1.Windows{ROI: [3]int{8, 8, 8}, Overlap: 0.5, Blend: model.BlendConstant, Batch: 4, Flips: [][3]bool{{true, false, false}}}
	net := func(ctx context.Context, x []float32, b int) ([]float32, error) {
		batches = append(batches, b)
		return shift(ctx, x, b)
	}
	out, err := w.Run(context.Background(), in, size, 1, 1, net, func(done, total int) { calls = append(calls, done, total) })
	if err != nil {
		t.Fatal(err)
	}
	total := w.Count(size)
	if total != 5*4*2 { // x starts 0, 4, 8, 12, 15; y 0, 4, 8, 9; z 0, 1
		t.Fatalf("%d windows, want 40", total)
	}
	if len(batches) != 2*10 || batches[0] != 4 || batches[len(batches)-1] != 4 {
		t.Errorf("batches %v: want 10 batches of 4 windows, each run plain and flipped", batches)
	}
	if len(calls) != 22 || calls[0] != 0 || calls[1] != total || calls[len(calls)-2] != total {
		t.Errorf("progress %v", calls)
	}
	// Windows start at x = 0, 4, 8, 12 and 15: columns 6 and 10 lie inside every window that covers them, where
	// the flip-averaged shift gives x back exactly; column 0 only has in(1)/2 (the plain shift falls off).
	for k := 0; k < size[2]; k++ {
		for j := 0; j < size[1]; j++ {
			for x, want := range map[int]float32{6: 6, 10: 10, 0: 0.5} {
				if got := out[x+size[0]*(j+size[1]*k)]; math.Abs(float64(got-want)) > 1e-5 {
					t.Fatalf("voxel (%d, %d, %d) = %v, want %v", x, j, k, got, want)
				}
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	runs := 0
	_, err = w.Run(ctx, in, size, 1, 1, func(ctx context.Context, x []float32, b int) ([]float32, error) {
		if runs++; runs == 3 {
			cancel()
		}
		return shift(ctx, x, b)
	}, nil)
	if !errors.Is(err, context.Canceled) || runs != 4 {
		t.Errorf("cancelled after %d runs: %v (want the batch in flight finished, then context.Canceled)", runs, err)
	}
}

// A 64³ window over a 240×240×155 study: a pointwise network gives every window the same answer at a voxel,
// so whatever the blending the labels must be exactly those computed voxel by voxel from the raw study, here in
// the test, without windows, boxes or grids.
func TestSlidingWindowPointwiseOverBraTSGrid(t *testing.T) {
	W := [][]float32{{0.2, 0.1, 0, 0.1}, {0.9, -0.4, 0.3, 0.1}, {-0.2, 0.8, 0.1, 0}, {0.1, 0.2, -0.5, 0.9}}
	bias := []float32{3, 0, 0, 0} // background wins where the image is 0
	b := onnxpb.NewBuilder("pointwise")
	x := onnxVolume(b, "image", 4)
	b.OpTo("seg", "Softmax", []string{pointwise(b, x, W, bias)}, onnxpb.IntAttr("axis", 1))
	b.Output("seg", onnxpb.Float32, onnxpb.Symbolic("n"), onnxpb.Fixed(4), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w"))
	classes := []model.Class{{Index: 0, Label: "BG"}, {Index: 1, Label: "NCR"}, {Index: 2, Label: "ED"}, {Index: 3, Label: "ET"}}
	card := segCard("pointwise", []string{"T1", "T1CE", "T2", "FLAIR"}, model.Preprocessing{Normalisation: model.NormNone,
		Window:        &model.Window{ROI: []int64{64, 64, 64}, Overlap: 0.25, Blend: model.BlendGaussian, Batch: 3},
		TestTimeFlips: []string{"x", "yz"}}, softmaxOutput(4, false, classes...))
	m := loadFixture(t, b.Graph(), card)

	g := bratsGrid()
	brain, radii := viewer.Vec3{3, 8, -2}, viewer.Vec3{64, 80, 54}
	st := fixtureStudy("pointwise", g, func(c int, p viewer.Vec3) float32 {
		if !inEllipsoid(p, brain, radii) {
			return 0
		}
		return float32(5 + 10*hash01(p, c))
	})
	var progress [][2]int
	res, err := m1.Predict(context.Background(), m, m1.Request{Study: st, Progress: func(stage string, done, total int) {
		if stage == m1.StageInference {
			progress = append(progress, [2]int{done, total})
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	pp := res.Preprocessing
	if pp.WindowSize != [3]int{64, 64, 64} || pp.ModelSpacingMM != (viewer.Vec3{1, 1, 1}) {
		t.Fatalf("windows %v at %v mm", pp.WindowSize, pp.ModelSpacingMM)
	}
	want := 1
	for a := 0; a < 3; a++ {
		want *= len(m1.Starts(pp.ModelGridSize[a], 64, 0.25))
	}
	if pp.Windows != want || want < 18 || len(progress) != (want+2)/3+1 || progress[len(progress)-1] != [2]int{want, want} {
		t.Errorf("grid %v: %d windows (want %d); progress %v", pp.ModelGridSize, pp.Windows, want, progress)
	}
	vols := [4][]float32{}
	for c, se := range st.Series {
		v, _ := se.InMemory()
		vols[c] = v.Data
	}
	mismatch, counts := 0, [4]int{}
	for i := range res.Labels.Data {
		var logit [4]float64
		for o := range logit {
			logit[o] = float64(bias[o])
			for c := 0; c < 4; c++ {
				logit[o] += float64(W[o][c]) * float64(vols[c][i])
			}
		}
		best := 0
		for o := 1; o < 4; o++ {
			if logit[o] > logit[best] {
				best = o
			}
		}
		counts[best]++
		if res.Labels.Data[i] != uint8(best) {
			mismatch++
		}
	}
	t.Logf("grid %v, %d windows, labels %v", pp.ModelGridSize, pp.Windows, counts)
	if mismatch != 0 || counts[1] == 0 || counts[2] == 0 || counts[3] == 0 {
		t.Errorf("%d of %d voxels differ from the voxel-by-voxel answer (classes %v)", mismatch, len(res.Labels.Data), counts)
	}
}

// A 64³ window over a 240×240×155 study with a 3×3×3 convolution, whose zero padding makes every window's
// border differ from its neighbours': the blended labels must match an independent NumPy implementation of
// MONAI's sliding_window_inference (testdata/sliding_window_reference.py) wherever NumPy's top two classes are
// more than 1e-5 apart (float32 against float64).
func TestSlidingWindowMatchesNumPyReference(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		testenv.Missing(t, "python3-numpy", "compare sliding windows with a NumPy reference", "apt-get install python3-numpy")
	}
	kernel := make([]float32, 4*4*27)
	for i := range kernel {
		kernel[i] = float32(math.Sin(float64(i)*1.7)) * 0.3
	}
	bias := []float32{0.5, 0, 0, 0}
	b := onnxpb.NewBuilder("conv3")
	x := onnxVolume(b, "image", 4)
	b.OpTo("seg", "Softmax", []string{conv(b, x, "c3", 4, 3, kernel, bias)}, onnxpb.IntAttr("axis", 1))
	b.Output("seg", onnxpb.Float32, onnxpb.Symbolic("n"), onnxpb.Fixed(4), onnxpb.Symbolic("d"), onnxpb.Symbolic("h"), onnxpb.Symbolic("w"))
	classes := []model.Class{{Index: 0, Label: "BG"}, {Index: 1, Label: "NCR"}, {Index: 2, Label: "ED"}, {Index: 3, Label: "ET"}}
	win := &model.Window{ROI: []int64{64, 64, 64}, Overlap: 0.25, Blend: model.BlendGaussian, Batch: 2}
	card := segCard("conv3", []string{"T1", "T1CE", "T2", "FLAIR"}, model.Preprocessing{Normalisation: model.NormNone, Window: win},
		softmaxOutput(4, false, classes...))
	m := loadFixture(t, b.Graph(), card)

	g := bratsGrid()
	brain, radii := viewer.Vec3{-4, 6, 3}, viewer.Vec3{48, 50, 44} // a grid of 2 × 2 × 2 windows: 8 for NumPy to run
	st := fixtureStudy("conv3", g, func(c int, p viewer.Vec3) float32 {
		if !inEllipsoid(p, brain, radii) {
			return 0
		}
		return float32(1 + 2*hash01(p.Scale(0.25), c)) // smooth-ish: 4 mm cells
	})
	res, err := m1.Predict(context.Background(), m, m1.Request{Study: st})
	if err != nil {
		t.Fatal(err)
	}
	pp := res.Preprocessing
	// The model grid lies on the study's voxels: its offset in voxels.
	var off [3]int
	for a := 0; a < 3; a++ {
		f := pp.ModelOriginMM[a] - g.Origin[a]
		off[a] = int(math.Round(f))
		if math.Abs(f-float64(off[a])) > 1e-9 {
			t.Fatalf("model grid origin %v is not on the study's voxels", pp.ModelOriginMM)
		}
	}
	dir := t.TempDir()
	var raw []float32
	for _, se := range st.Series {
		v, _ := se.InMemory()
		raw = append(raw, v.Data...)
	}
	writeF32(t, filepath.Join(dir, "image.f32"), raw)
	writeF32(t, filepath.Join(dir, "kernel.f32"), kernel)
	writeF32(t, filepath.Join(dir, "bias.f32"), bias)
	args := []string{"inference/m1/testdata/sliding_window_reference.py", "-dir", dir,
		"-size", fmt.Sprint(g.Size[0], ",", g.Size[1], ",", g.Size[2]),
		"-grid", fmt.Sprint(pp.ModelGridSize[0], ",", pp.ModelGridSize[1], ",", pp.ModelGridSize[2]),
		"-offset", fmt.Sprint(off[0], ",", off[1], ",", off[2]), "-roi", "64", "-overlap", "0.25", "-sigma", "0.125"}
	cmd := exec.Command(python, args...)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference: %v\n%s", err, out)
	}
	ref, err := os.ReadFile(filepath.Join(dir, "labels.u8"))
	if err != nil {
		t.Fatal(err)
	}
	margin := readF32(t, filepath.Join(dir, "margin.f32"))
	if len(ref) != len(res.Labels.Data) || len(margin) != len(ref) {
		t.Fatalf("reference has %d labels, %d margins for %d voxels", len(ref), len(margin), len(res.Labels.Data))
	}
	differ, ties := 0, 0
	var counts [4]int
	for i, l := range ref {
		counts[l]++
		if margin[i] < 1e-5 {
			ties++
			continue
		}
		if res.Labels.Data[i] != l {
			differ++
		}
	}
	t.Logf("grid %v at offset %v, %d windows; reference labels %v, %d near-ties skipped", pp.ModelGridSize, off, pp.Windows, counts, ties)
	if differ != 0 || ties > 100 || counts[1]+counts[2]+counts[3] < 100000 {
		t.Errorf("%d voxels differ from the NumPy reference (%d near-ties; classes %v)", differ, ties, counts)
	}
}

func writeF32(t testing.TB, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readF32(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
