package viewer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

// benchStudy returns the folder of the benchmark study: NEURONOVA_BENCH_DIR when set (the study is written
// there if the folder has no .dcm files yet, so that scripts/bench-load.sh can time pydicom on the same
// files), else a temporary folder. It also returns the files.
func benchStudy(b *testing.B) (string, []string) {
	b.Helper()
	dir := os.Getenv("NEURONOVA_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.dcm"))
	if len(files) == 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		// TODO(lead): use demo.Write(dir) once viewer/demo has it; WriteBenchStudy writes the same shape.
		if err := viewer.WriteBenchStudy(dir); err != nil {
			b.Fatal(err)
		}
		files, _ = filepath.Glob(filepath.Join(dir, "*.dcm"))
	}
	return dir, files
}

// BenchmarkReadFiles reads every file of the study with os.ReadFile, one after the other: the physical floor
// of loading it.
func BenchmarkReadFiles(b *testing.B) {
	_, files := benchStudy(b)
	var total int64
	for b.Loop() {
		total = 0
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			total += int64(len(data))
		}
	}
	b.SetBytes(total)
}

// BenchmarkLoadStudy scans the study's folder keeping the pixel data, then loads its four series into
// volumes: what opening the demo study costs.
func BenchmarkLoadStudy(b *testing.B) {
	dir, files := benchStudy(b)
	ctx := context.Background()
	var size int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	b.SetBytes(size)
	for b.Loop() {
		res, err := viewer.Scan(ctx, []string{dir}, viewer.WithPixelData())
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Rejected) > 0 || len(res.Studies) != 1 || len(res.Studies[0].Series) != 4 {
			b.Fatalf("scan: %d studies, %d rejected", len(res.Studies), len(res.Rejected))
		}
		for _, se := range res.Studies[0].Series {
			if _, err := viewer.LoadSeries(ctx, se, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkScanHeaders scans the study's folder for headers only, as a worklist import does.
func BenchmarkScanHeaders(b *testing.B) {
	dir, _ := benchStudy(b)
	for b.Loop() {
		if _, err := viewer.Scan(context.Background(), []string{dir}); err != nil {
			b.Fatal(err)
		}
	}
}
