package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

const bratsSubject = "../../../shared/data/brats-sub-0004"

// runCmd runs one command line and returns its exit status and outputs.
func runCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestDemoInfoRender writes the demo study, lists it and renders it, as the README's commands do.
func TestDemoInfoRender(t *testing.T) {
	dir := t.TempDir()
	study := filepath.Join(dir, "demo")
	if code, _, stderr := runCmd("demo", "--out", study); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCmd("info", study)
	if code != 0 {
		t.Fatalf("info: exit %d: %s", code, stderr)
	}
	if n := strings.Count(out, "Study "); n != 1 {
		t.Errorf("info lists %d studies, want 1:\n%s", n, out)
	}
	for _, want := range []string{"Series 1  T1 ", "Series 2  T1CE", "Series 3  T2 ", "Series 4  FLAIR", "grid 240×240×155", "label map: [240 240 155]"} {
		if !strings.Contains(out, want) {
			t.Errorf("info output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "problem:") || strings.Contains(out, "Skipped") {
		t.Errorf("the demo study has problems or skipped files:\n%s", out)
	}

	png1 := filepath.Join(dir, "axial.png")
	if code, _, stderr := runCmd("render", "--input", study, "--series", "t1ce", "--overlay", "--out", png1); code != 0 {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	f, err := os.Open(png1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 240 || b.Dy() != 240 {
		t.Errorf("axial image %v, want 240×240", b)
	}
	// The overlay is drawn: some pixel is clearly coloured (grey pixels have R = G = B).
	coloured := 0
	for y := 0; y < 240; y++ {
		for x := 0; x < 240; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if max(r, g, b)-min(r, g, b) > 0x2000 {
				coloured++
			}
		}
	}
	if coloured < 100 {
		t.Errorf("the rendered slice has %d coloured pixels: no tumour overlay", coloured)
	}

	// Without --series: the only series of a one-series input; the choices when the study has several.
	only := filepath.Join(dir, "only.png")
	if code, out, stderr := runCmd("render", "--input", filepath.Join(study, "SE002"), "--out", only); code != 0 || !strings.Contains(out, only+": T1CE axial") {
		t.Errorf("render of one series without --series: exit %d: %s%s", code, out, stderr)
	}
	code, _, stderr = runCmd("render", "--input", study, "--out", filepath.Join(dir, "any.png"))
	if code != 1 || !strings.Contains(stderr, "has 4, choose one: 1 T1 (") || !strings.Contains(stderr, "4 FLAIR (") || !strings.Contains(stderr, "--series") {
		t.Errorf("render of four series without --series: exit %d: %s", code, stderr)
	}
}

// TestBadInput checks that wrong command lines and bad data fail with a status and a message naming
// what is wrong.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.dcm")
	if err := os.WriteFile(junk, []byte("this is not DICOM"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"info"}, 2, "info needs at least one PATH"},
		{[]string{"demo"}, 2, "demo needs --out DIR"},
		{[]string{"render", "--input", dir}, 2, "render needs --input PATH and --out FILE.png"},
		{[]string{"render", "--input", dir, "--out", "x.png", "--plane", "oblique"}, 2, `--plane "oblique"`},
		{[]string{"render", "--input", dir, "--out", "x.png", "--wl", "400"}, 2, `--wl "400"`},
		{[]string{"info", filepath.Join(dir, "missing")}, 1, "no such file or directory"},
		{[]string{"info", junk}, 1, "junk.dcm: not a DICOM file"},
		{[]string{"cache", "gc", "--data", dir, "now"}, 2, `cache gc takes no arguments, got ["now"]`},
		{[]string{"cache", "check", "--data", dir, "all"}, 2, `cache check takes no arguments, got ["all"]`},
		{[]string{"help", "render"}, 2, `help takes no arguments, got ["render"]`},
	} {
		code, _, stderr := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// TestRenderBraTSOverlay renders the real subject with its ground truth, as the check does.
func TestRenderBraTSOverlay(t *testing.T) {
	if !viewer.IsBraTSDir(bratsSubject) {
		t.Skipf("the shared BraTS subject %s is absent: this test renders real data, which lies beside the project checkout (../shared), never in it", bratsSubject)
	}
	out := filepath.Join(t.TempDir(), "brats.png")
	code, stdout, stderr := runCmd("render", "--input", bratsSubject, "--series", "FLAIR", "--plane", "coronal", "--overlay", "--out", out)
	if code != 0 {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "FLAIR coronal") {
		t.Errorf("render said %q", stdout)
	}
	if st, err := os.Stat(out); err != nil || st.Size() < 1000 {
		t.Fatalf("no image written: %v", err)
	}
}
