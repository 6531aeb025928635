package viewer_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// benchStudy returns the folder of the benchmark study, the demo study (620 MR files): NEURONOVA_BENCH_DIR
// when set (the study is written there if the folder has no .dcm files yet, so that scripts/bench-load.sh can
// time pydicom on the same files), else a temporary folder. It returns the files.
func benchStudy(b *testing.B) []string {
	b.Helper()
	dir := os.Getenv("NEURONOVA_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	files := dicomFiles(b, dir)
	if len(files) == 0 {
		if err := demo.Write(dir); err != nil {
			b.Fatal(err)
		}
		files = dicomFiles(b, dir)
	}
	return files
}

// dicomFiles lists the .dcm files under dir, in every subfolder.
func dicomFiles(b *testing.B, dir string) []string {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".dcm" {
			files = append(files, path)
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	return files
}

// BenchmarkReadFiles reads every file of the study with os.ReadFile, one after the other: the physical floor
// of loading it.
func BenchmarkReadFiles(b *testing.B) {
	files := benchStudy(b)
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

// BenchmarkLoadStudy scans the study's files keeping the pixel data, then loads its four series into
// volumes at once (LoadStudy): what opening the demo study in the 2×2 layout costs.
func BenchmarkLoadStudy(b *testing.B) {
	files := benchStudy(b)
	ctx := context.Background()
	var size int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	b.SetBytes(size)
	for b.Loop() {
		res, err := viewer.Scan(ctx, files, viewer.WithPixelData())
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Rejected) > 0 || len(res.Studies) != 1 || len(res.Studies[0].Series) != 4 {
			b.Fatalf("scan: %d studies, %d rejected", len(res.Studies), len(res.Rejected))
		}
		if _, err := viewer.LoadStudy(ctx, res.Studies[0].Series, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanHeaders scans the study's files for headers only, as a worklist import does.
func BenchmarkScanHeaders(b *testing.B) {
	files := benchStudy(b)
	for b.Loop() {
		if _, err := viewer.Scan(context.Background(), files); err != nil {
			b.Fatal(err)
		}
	}
}
