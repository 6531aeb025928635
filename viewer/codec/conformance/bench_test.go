//go:build cgo

package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/neuronova/neuronova/viewer"
)

// benchEncoders are the tools that make each syntax's benchmark file.
var benchEncoders = []encoder{
	{"JPEG lossless SV1", "1.2.840.10008.1.2.4.70", 0, all, tool("dcmcjpeg", "+e1")},
	{"JPEG lossless SV6", "1.2.840.10008.1.2.4.57", 0, all, tool("dcmcjpeg", "+el", "+sv", "6")},
	{"JPEG extended 12-bit", "1.2.840.10008.1.2.4.51", -1, all, tool("dcmcjpeg", "+ee", "+q", "90")},
	{"JPEG-LS lossless", "1.2.840.10008.1.2.4.80", 0, all, tool("gdcmconv", "--jpegls")},
	{"JPEG-LS near-lossless", "1.2.840.10008.1.2.4.81", 2, all, tool("gdcmconv", "--jpegls", "--lossy", "-e", "2")},
	{"JPEG 2000 lossless", "1.2.840.10008.1.2.4.90", 0, all, tool("gdcmconv", "--j2k")},
	{"JPEG 2000 lossy", "1.2.840.10008.1.2.4.91", -1, all, tool("gdcmconv", "--j2k", "--lossy", "-r", "8")},
	{"HTJ2K lossless", "1.2.840.10008.1.2.4.201", 0, all, htj2k("1.2.840.10008.1.2.4.201")},
	{"HTJ2K lossy", "1.2.840.10008.1.2.4.203", -1, all, htj2k("1.2.840.10008.1.2.4.203")},
}

// benchFile is one benchmark file: an MR-like 12-bit series of 512×512 frames in one syntax.
type benchFile struct {
	name, path string
	frames     int
}

const benchFrames = 16

// benchFiles encodes the benchmark source with every benchEncoders tool into dir.
func benchFiles(tb testing.TB, dir string) []benchFile {
	tb.Helper()
	s := newSource("bench", 512, 512, benchFrames, 1, 16, 12, false)
	s.write(tb, dir)
	var out []benchFile
	for i := range benchEncoders {
		e := &benchEncoders[i]
		path := filepath.Join(dir, fmt.Sprintf("bench-%d.dcm", i))
		if err := e.run(tb, s, path); err != nil {
			tb.Fatalf("%s: %v", e.name, err)
		}
		out = append(out, benchFile{name: e.name, path: path, frames: benchFrames})
	}
	return out
}

// BenchmarkDecode decodes one 16-frame 512×512 12-bit file per syntax (parse and all frames, one goroutine)
// and reports frames per second.
func BenchmarkDecode(b *testing.B) {
	files := benchFiles(b, b.TempDir())
	for _, f := range files {
		b.Run(strings.ReplaceAll(f.name, " ", "_"), func(b *testing.B) {
			for range b.N {
				if err := decodeAll(f.path); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(f.frames*b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

func decodeAll(path string) error {
	f, err := viewer.ParseFile(path, viewer.WithPixelData())
	if err != nil {
		return err
	}
	_, _, err = f.Decode()
	return err
}

// gdcmTimeScript decodes each file with GDCM (read and decompress) once to warm up, then benchRuns times, and
// prints the CPU seconds the fastest run took.
const gdcmTimeScript = `
import json, sys, time
import gdcm
gdcm.Trace.SetWarning(False)
def decode(path):
    r = gdcm.ImageReader()
    r.SetFileName(path)
    return r.Read() and len(r.GetImage().GetBuffer()) > 0
out = {}
for path in json.load(sys.stdin):
    if not decode(path):
        out[path] = -1
        continue
    best = 1e9
    for _ in range(int(sys.argv[1])):
        t = time.process_time()
        decode(path)
        best = min(best, time.process_time() - t)
    out[path] = best
print(json.dumps(out))
`

// benchRuns: each side decodes each file once to warm up, then benchRuns times; the fastest run counts. Runs
// are timed in CPU time of the process (user + system), so that other work on a shared machine does not
// count.
const benchRuns = 3

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVersusGDCM decodes each syntax's file with the viewer and with GDCM (python3-gdcm, the same C++
// decoders pydicom uses), one goroutine or thread each, and reports frames per second of the fastest run
// (CPU time) and their ratio (scripts/bench-codecs.sh runs it). GDCM 3.0 does not decode HTJ2K.
func BenchmarkVersusGDCM(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run: use -benchtime 1x")
	}
	files := benchFiles(b, b.TempDir())
	var paths []string
	for _, f := range files {
		paths = append(paths, f.path)
	}
	cmd := exec.Command(systemPython, "-c", gdcmTimeScript, fmt.Sprint(benchRuns))
	in, _ := json.Marshal(paths)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("GDCM: %v", err)
	}
	var gdcm map[string]float64
	if err := json.Unmarshal(out, &gdcm); err != nil {
		b.Fatal(err)
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n%-24s %12s %12s %7s\n", "syntax (512×512 12-bit)", "NeuroNova", "GDCM", "ratio")
	for _, f := range files {
		if err := decodeAll(f.path); err != nil {
			b.Fatal(err)
		}
		best := time.Duration(1 << 62)
		for range benchRuns {
			start := cpuTime()
			decodeAll(f.path)
			best = min(best, cpuTime()-start)
		}
		ours := float64(f.frames) / best.Seconds()
		theirs, ratio := "n/a", "n/a"
		if s := gdcm[f.path]; s > 0 {
			theirs = fmt.Sprintf("%.0f f/s", float64(f.frames)/s)
			ratio = fmt.Sprintf("%.2f×", ours/(float64(f.frames)/s))
		}
		fmt.Fprintf(&report, "%-24s %10.0f f/s %12s %7s\n", f.name, ours, theirs, ratio)
	}
	b.Log(report.String())
}
