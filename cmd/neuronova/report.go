package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"time"

	"github.com/neuronova/neuronova/cmd/neuronova/internal/pdfreport"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// cmdReport is `neuronova report --order ID --out FILE.pdf`: the order's report as a PDF, from the local
// cache (what the last sync brought), with key images of its study when the cache holds it.
func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	order := fs.String("order", "", "order ID (ocs_0001)")
	out := fs.String("out", "", "the PDF to write")
	data := dataFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *order == "" || *out == "" {
		return fmt.Errorf("%w: report needs --order and --out", errUsage)
	}
	c, err := openCacheDir(*data, false, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	e := engine.NewWith(c, nil, nil, engine.Options{Logger: discardLogger()}) // reads the cache only
	o, err := e.Order(ctx, *order)
	if errors.Is(err, cache.ErrNotFound) {
		return fmt.Errorf("order %s is not in the local cache: run `neuronova sync` as a user who sees it", *order)
	}
	if err != nil {
		return err
	}
	results, err := e.OrderResults(ctx, o.ID)
	if err != nil {
		return err
	}
	var images []image.Image
	if uid, err := c.FindStudy(ctx, o.ID); err == nil {
		if images, err = studyKeyImages(ctx, c, uid); err != nil {
			return err
		}
	}
	if err := writeReportPDF(*out, pdfreport.Report{Order: *o, Results: results, Images: images, PrintedBy: c.Actor(), Printed: time.Now()}); err != nil {
		return err
	}
	if err := c.RecordAudit(ctx, c.Actor(), "report.print", o.ID, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: report of order %s (%s, %s), %d AI results, %d key images\n", *out, o.ID, o.PatientName, o.Status, len(results), len(images))
	return nil
}

// studyKeyImages renders the axial slice of a cached study's T1CE and FLAIR (or its first series) where
// its label map is largest (or the middle), overlay included when the study has labels on that grid.
func studyKeyImages(ctx context.Context, c *cache.Cache, uid string) ([]image.Image, error) {
	st, err := c.OpenStudy(ctx, uid)
	if err != nil {
		return nil, err
	}
	var series []*viewer.Series
	for _, t := range []viewer.SeriesType{viewer.T1CE, viewer.FLAIR} {
		if se := st.SeriesByType(t); se != nil {
			series = append(series, se)
		}
	}
	if len(series) == 0 && len(st.Series) > 0 {
		series = st.Series[:1]
	}
	var out []image.Image
	for _, se := range series {
		vol, err := viewer.LoadSeries(ctx, se, nil)
		if err != nil {
			return nil, err
		}
		img, err := keyImage(vol, st.Labels)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// keyImage renders vol's axial slice at the largest extent of labels (when on its grid) with the default
// window, square pixels, as the viewer draws it.
func keyImage(vol *viewer.Volume, labels *viewer.LabelMap) (image.Image, error) {
	plane, err := render.NewPlane(vol.Geometry, render.Axial)
	if err != nil {
		return nil, err
	}
	if labels != nil && !labels.Geometry.SameGrid(vol.Geometry, 1e-3) {
		labels = nil
	}
	lut, err := render.NewLUT(render.DefaultWindow(vol), false)
	if err != nil {
		return nil, err
	}
	var ov *render.Overlay
	if labels != nil {
		ov = &render.Overlay{Map: labels, Opacity: render.DefaultOverlayOpacity}
	}
	img := image.NewRGBA(plane.Bounds())
	if err := plane.RenderRGBA(img, vol, plane.StartSlice(labels), lut, ov); err != nil {
		return nil, err
	}
	return squarePixels(img, plane), nil
}
