package cache

import (
	"context"
	"image"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// BenchmarkImportDemo imports the 620-file demo study into an empty cache: parse, hash, copy, fsync,
// index. Reported as files/s.
func BenchmarkImportDemo(b *testing.B) {
	src := demoDir(b)
	ctx := context.Background()
	var total time.Duration
	files := 0
	for b.Loop() {
		b.StopTimer()
		c, err := Open(b.TempDir(), Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		sum, err := c.Import(ctx, []string{src}, nil)
		total += time.Since(start)
		if err != nil || sum.Imported != 620 {
			b.Fatalf("import: %d, %v", sum.Imported, err)
		}
		files += sum.Imported
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(files)/total.Seconds(), "files/s")
}

var (
	bigOnce sync.Once
	bigDir  string
)

// BenchmarkWorklist100k runs the worklist query mix (text prefixes, date ranges, modality, description,
// series types, sync state, every sort, paging) on an index of 100,000 generated studies and reports the
// 50th and 99th percentile of one query's latency.
func BenchmarkWorklist100k(b *testing.B) {
	bigOnce.Do(func() {
		bigDir = filepath.Join(tmpRoot, "worklist100k")
		c, err := Open(bigDir, Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		generateStudies(b, c, 100_000, 1)
		c.Close()
	})
	c, err := Open(bigDir, Options{Logger: quiet, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := worklistQueries[i%len(worklistQueries)]
		start := time.Now()
		if _, err := c.Worklist(ctx, q); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkOpenFirstImage opens a cached demo study as the UI does — OpenStudy, LoadSeries of its first
// series, render of the middle axial slice with the auto window — and reports the time to that image.
func BenchmarkOpenFirstImage(b *testing.B) {
	src := demoDir(b)
	ctx := context.Background()
	c := openCache(b, b.TempDir())
	sum, err := c.Import(ctx, []string{src}, nil)
	if err != nil {
		b.Fatal(err)
	}
	uid := sum.Studies[0]
	for b.Loop() {
		st, err := c.OpenStudy(ctx, uid)
		if err != nil {
			b.Fatal(err)
		}
		v, err := viewer.LoadSeries(ctx, st.Series[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		plane, err := render.NewPlane(v.Geometry, render.Axial)
		if err != nil {
			b.Fatal(err)
		}
		lut, err := render.NewLUT(v.AutoWindow(), false)
		if err != nil {
			b.Fatal(err)
		}
		img := image.NewGray(plane.Bounds())
		if err := plane.RenderGray(img, v, plane.Slices()/2, lut); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/open")
}
