//go:build cgo

package conformance

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testenv"
)

const systemPython = "/usr/bin/python3"

// reference is what another decoder made of a file: its values (stored values, masked to the header's
// BitsStored and sign-extended by its PixelRepresentation as the viewer does, frames one after the other,
// samples interleaved) and photometric interpretation, or its error.
type reference struct {
	values      []float32
	photometric string
	err         string
}

// gdcmScript decodes each file of a JSON list with GDCM (python3-gdcm) and writes its samples as float32.
const gdcmScript = `
import json, sys
import numpy as np, gdcm, pydicom
from pydicom.encaps import generate_pixel_data_frame
gdcm.Trace.SetWarning(False)
gdcm.Trace.SetDebug(False)
dtypes = {gdcm.PixelFormat.UINT8: np.uint8, gdcm.PixelFormat.INT8: np.int8, gdcm.PixelFormat.UINT16: np.uint16,
          gdcm.PixelFormat.INT16: np.int16, gdcm.PixelFormat.UINT32: np.uint32, gdcm.PixelFormat.INT32: np.int32}
for i, path in enumerate(json.load(sys.stdin)):
    try:
        r = gdcm.ImageReader()
        r.SetFileName(path)
        if not r.Read():
            raise ValueError("GDCM cannot read the file")
        img = r.GetImage()
        buf = img.GetBuffer()
        if isinstance(buf, str):
            buf = buf.encode("utf-8", "surrogateescape")
        pf = img.GetPixelFormat()
        dims = [img.GetDimension(k) for k in range(img.GetNumberOfDimensions())]
        frames = dims[2] if len(dims) > 2 else 1
        spp = pf.GetSamplesPerPixel()
        n = dims[0] * dims[1] * frames * spp
        arr = np.frombuffer(buf, dtype=dtypes[pf.GetScalarType()])
        if arr.size != n:
            raise ValueError("GDCM gave %d samples for %d" % (arr.size, n))
        if spp > 1 and img.GetPlanarConfiguration() == 1:
            arr = arr.reshape(frames, spp, dims[1] * dims[0]).transpose(0, 2, 1)
        a = arr.astype(np.int64).ravel()
        # BitsStored and PixelRepresentation as the viewer reads them: from the header, but from the SIZ marker
        # of a JPEG 2000 codestream, which GDCM and pydicom trust too (GDCM's pixel format says signed for
        # J2K_pixelrep_mismatch.dcm, whose codestream says unsigned).
        hdr = pydicom.dcmread(path)
        bs, signed = int(hdr.BitsStored), int(hdr.PixelRepresentation) == 1
        if str(hdr.file_meta.TransferSyntaxUID).startswith("1.2.840.10008.1.2.4.9"):
            cs = next(generate_pixel_data_frame(hdr.PixelData, int(hdr.get("NumberOfFrames", 1) or 1)))
            siz = cs.find(b"\xff\x51")
            bs, signed = (cs[siz + 40] & 0x7F) + 1, cs[siz + 40] & 0x80 != 0
        if bs < 8 * arr.itemsize:
            a = a & ((1 << bs) - 1)
            if signed:
                a = np.where(a >= (1 << (bs - 1)), a - (1 << bs), a)
        a.astype("<f4").tofile(sys.argv[1] + "/%d.raw" % i)
        print(json.dumps({"i": i, "n": int(a.size), "pi": img.GetPhotometricInterpretation().GetString().strip()}), flush=True)
    except Exception as e:
        print(json.dumps({"i": i, "error": "%s: %s" % (type(e).__name__, e)}), flush=True)
`

// gdcmDecode decodes files with GDCM.
func gdcmDecode(t testing.TB, files []string) map[string]reference {
	t.Helper()
	if out, err := exec.Command(systemPython, "-c", "import gdcm, numpy").CombinedOutput(); err != nil {
		testenv.Missing(t, fmt.Sprintf("GDCM's Python module (%v: %s)", err, bytes.TrimSpace(out)),
			"compare the codecs with GDCM's decoding", "apt-get install python3-gdcm python3-numpy")
	}
	dir := t.TempDir()
	refs := map[string]reference{}
	// GDCM aborts on some broken files: the file it was at is recorded as refused, and the rest decoded by a
	// new process.
	for len(files) > 0 {
		done, err := gdcmRun(t, dir, files, refs)
		if err == nil {
			break
		}
		if done >= len(files) {
			t.Fatalf("GDCM: %v", err)
		}
		refs[files[done]] = reference{err: "GDCM aborted: " + lastLine(err.Error())}
		files = files[done+1:]
	}
	return refs
}

// gdcmRun runs gdcmScript over files and fills refs; it returns how many files it reported on.
func gdcmRun(t testing.TB, dir string, files []string, refs map[string]reference) (int, error) {
	in, _ := json.Marshal(files)
	cmd := exec.Command(systemPython, "-c", gdcmScript, dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	done := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var r struct {
			I     int
			N     int
			PI    string
			Error string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("GDCM output line %q: %v", line, err)
		}
		done = r.I + 1
		if r.Error != "" {
			refs[files[r.I]] = reference{err: r.Error}
			continue
		}
		v, err := readFloats(filepath.Join(dir, fmt.Sprintf("%d.raw", r.I)), r.N)
		if err != nil {
			t.Fatalf("GDCM output of %s: %v", files[r.I], err)
		}
		refs[files[r.I]] = reference{values: v, photometric: r.PI}
	}
	if runErr != nil {
		return done, fmt.Errorf("%v: %s", runErr, stderr.String())
	}
	return done, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func readFloats(path string, n int) ([]float32, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) != 4*n {
		return nil, fmt.Errorf("%d bytes for %d values", len(raw), n)
	}
	v := make([]float32, n)
	for k := range v {
		v[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
	}
	return v, nil
}
