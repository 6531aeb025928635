package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testenv"
)

const pydicomCorpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

// corpusBroken are the deliberately broken image files of pydicom's corpus, with what is wrong with each:
// info and render must refuse them with a message that names the file and says that, except that info,
// which reads headers only, lists the files whose header is sound (corpusSoundHeader).
var corpusBroken = map[string]string{
	"MR_truncated.dcm":                         "pixel data declares 8192 bytes, the file has 8130",
	"JPEG2000-embedded-sequence-delimiter.dcm": "beyond the 65535 rows and columns",
	"badVR.dcm":                                `Number of Frames "1A" is not an integer`,
	"meta_missing_tsyntax.dcm":                 "no TransferSyntaxUID",
	"nested_priv_SQ.dcm":                       "image without Rows",
}

var corpusSoundHeader = map[string]bool{"JPEG2000-embedded-sequence-delimiter.dcm": true}

// corpusImages lists the files of pydicom's corpus that pydicom (force=True) finds Pixel Data in.
func corpusImages(t *testing.T) []string {
	t.Helper()
	script := `
import json, os, sys, warnings
import pydicom
warnings.simplefilter("ignore")
out = []
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        try:
            if "PixelData" in pydicom.dcmread(p, force=True):
                out.append(p)
        except Exception:
            pass
print(json.dumps(sorted(out)))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, pydicomCorpus).Output()
	if err != nil {
		testenv.Missing(t, "pydicom and its test corpus", "list the corpus' image files", "apt-get install python3-pydicom")
	}
	var files []string
	if err := json.Unmarshal(out, &files); err != nil || len(files) < 50 {
		t.Fatalf("pydicom listed %d image files (%v)", len(files), err)
	}
	return files
}

// TestCorpusInfoRender runs `neuronova info` and `neuronova render` on each image file of pydicom's corpus,
// alone: every one opens and renders (its first series, middle slice), except the deliberately broken ones,
// each refused with a message that names the file and the problem.
func TestCorpusInfoRender(t *testing.T) {
	files := corpusImages(t)
	dir := t.TempDir()
	rendered, refused, segs := 0, 0, 0
	for _, path := range files {
		name := strings.TrimPrefix(path, pydicomCorpus+"/")
		code, out, stderr := runCmd("info", path)
		series := ""
		if i := strings.Index(out, "\n  Series "); i >= 0 {
			series = strings.Fields(out[i:])[1]
		}
		if why, broken := corpusBroken[name]; broken {
			_, rout, rerr := runCmd("render", "--input", path, "--series", "1", "--out", filepath.Join(dir, "x.png"))
			msgs := []string{out + stderr, rout + rerr}
			if corpusSoundHeader[name] {
				msgs = msgs[1:]
			}
			for _, msg := range msgs {
				if !strings.Contains(msg, path) || !strings.Contains(msg, why) {
					t.Errorf("%s: want a message naming it and saying %q, got:\n%s", name, why, msg)
				}
			}
			refused++
			continue
		}
		if code == 0 && series == "" && strings.Contains(out, "\n  SEG series ") && !strings.Contains(out, "Skipped") {
			segs++ // a DICOM SEG alone: listed with its study, not an image series to render
			continue
		}
		if code != 0 || series == "" || strings.Contains(out, "Skipped") {
			t.Errorf("%s: info: exit %d:\n%s%s", name, code, out, stderr)
			continue
		}
		if strings.Contains(name, "J2K") && !strings.Contains(out, "encoding: JPEG 2000") || strings.Contains(out, "no decoder") {
			t.Errorf("%s: info does not name the encoding, or cannot decode it:\n%s", name, out)
		}
		png := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".png")
		code, rout, rerr := runCmd("render", "--input", path, "--series", series, "--out", png)
		if code != 0 || !strings.Contains(rout, png) {
			t.Errorf("%s: render --series %s: exit %d: %s%s", name, series, code, rout, rerr)
			continue
		}
		rendered++
	}
	t.Logf("%d image files: %d rendered, %d broken ones refused, %d SEGs listed", len(files), rendered, refused, segs)
	if refused != len(corpusBroken) {
		t.Errorf("%d broken files refused, %d listed: the corpus changed", refused, len(corpusBroken))
	}
}
