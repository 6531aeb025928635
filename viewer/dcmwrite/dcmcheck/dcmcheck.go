// Package dcmcheck cross-checks DICOM files in tests with independent tools: dciodvfy (dicom3tools),
// dcmdump (DCMTK) and pydicom. Each check skips the test, saying why, when its tool is absent.
package dcmcheck

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testenv"
)

// Python is the interpreter that sees Debian's python3-pydicom (the python3 on PATH may not).
const Python = "/usr/bin/python3"

func lookPath(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		testenv.Missing(t, tool, "cross-check the DICOM written with an independent reader", "apt-get install dcmtk dicom3tools")
	}
	return p
}

// Dciodvfy runs dciodvfy on each file, fails t on every line that reports an error, and returns the
// warning lines.
func Dciodvfy(t testing.TB, paths ...string) (warnings []string) {
	t.Helper()
	tool := lookPath(t, "dciodvfy")
	for _, p := range paths {
		out, _ := exec.Command(tool, p).CombinedOutput() // its exit status does not distinguish warnings
		for _, line := range strings.Split(string(out), "\n") {
			switch {
			case strings.Contains(line, "Error"):
				t.Errorf("dciodvfy %s: %s", filepath.Base(p), line)
			case strings.HasPrefix(line, "Warning"):
				warnings = append(warnings, line)
			}
		}
	}
	return warnings
}

// Dcmdump runs dcmdump on the files and fails t when it exits non-zero or reports an error ("E: ").
func Dcmdump(t testing.TB, paths ...string) {
	t.Helper()
	tool := lookPath(t, "dcmdump")
	for start := 0; start < len(paths); start += 200 {
		batch := paths[start:min(start+200, len(paths))]
		out, err := exec.Command(tool, append([]string{"-q"}, batch...)...).CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("E: ")) {
			t.Errorf("dcmdump: %v\n%s", err, out)
		}
	}
}

// DumpText returns dcmdump's listing of a file (-q, sequences and values in full), for tests that look
// for what it holds.
func DumpText(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command(lookPath(t, "dcmdump"), "-q", "+L", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dcmdump %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// Series is a series as pydicom read it: slices sorted by position along the slice normal, values with
// RescaleSlope/Intercept applied.
type Series struct {
	Rows, Columns int
	Orientation   [6]float64
	PixelSpacing  [2]float64
	Positions     [][3]float64
	Values        []float32 // slice after slice, row after row
	// Tags holds str() of a few attributes of the first slice, by keyword.
	Tags map[string]string
}

const pydicomScript = `
import sys, json, glob, os
import numpy as np, pydicom
folder, out = sys.argv[1], sys.argv[2]
ds = [pydicom.dcmread(f) for f in sorted(glob.glob(os.path.join(folder, '*.dcm')))]
iop = np.array([float(x) for x in ds[0].ImageOrientationPatient])
normal = np.cross(iop[:3], iop[3:])
ds.sort(key=lambda d: float(np.dot(np.array([float(x) for x in d.ImagePositionPatient]), normal)))
vol = np.stack([d.pixel_array.astype(np.float64) * float(getattr(d, 'RescaleSlope', 1)) + float(getattr(d, 'RescaleIntercept', 0)) for d in ds])
vol.astype('<f4').tofile(out)
tags = {}
for k in ['PatientName', 'PatientID', 'StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID', 'SeriesDescription',
          'Modality', 'SOPClassUID', 'SpecificCharacterSet', 'PixelRepresentation', 'RescaleSlope', 'RescaleIntercept',
          'WindowCenter', 'WindowWidth', 'StudyDate', 'ContrastBolusAgent', 'RepetitionTime', 'EchoTime', 'InversionTime']:
    if k in ds[0]:
        tags[k] = str(ds[0].data_element(k).value)
json.dump({'Rows': int(ds[0].Rows), 'Columns': int(ds[0].Columns), 'Orientation': [float(x) for x in iop],
           'PixelSpacing': [float(x) for x in ds[0].PixelSpacing],
           'Positions': [[float(x) for x in d.ImagePositionPatient] for d in ds], 'Tags': tags}, sys.stdout)
`

// Pydicom reads every *.dcm file of dir with pydicom.
func Pydicom(t testing.TB, dir string) *Series {
	t.Helper()
	if err := exec.Command(Python, "-c", "import pydicom, numpy").Run(); err != nil {
		testenv.Missing(t, "pydicom or numpy for "+Python+" ("+err.Error()+")", "cross-check the DICOM written with pydicom",
			"apt-get install python3-pydicom python3-numpy")
	}
	raw := filepath.Join(t.TempDir(), "values.f32")
	var stderr bytes.Buffer
	cmd := exec.Command(Python, "-c", pydicomScript, dir, raw)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pydicom could not read %s: %v\n%s", dir, err, stderr.String())
	}
	var s Series
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("pydicom output: %v\n%s", err, out)
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	s.Values = make([]float32, len(b)/4)
	for i := range s.Values {
		s.Values[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return &s
}
