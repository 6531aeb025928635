package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
	"github.com/neuronova/neuronova/viewer/render"
)

// cmdDemo writes the demo study.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	out := fs.String("out", "", "folder to write the study into (created if missing)")
	perSeries := fs.Bool("study-per-series", false, "give every series its own StudyInstanceUID (same patient and date), as some converters write a session")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: demo needs --out DIR and nothing else", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := progressLine(stderr, "writing the demo study")
	opts := []dcmwrite.Option{dcmwrite.WithContext(ctx), dcmwrite.WithProgress(bar)}
	if *perSeries {
		opts = append(opts, dcmwrite.StudyPerSeries())
	}
	if err := demo.Write(*out, opts...); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "\n")
	fmt.Fprintf(stdout, "demo study written to %s (synthetic phantom, not patient data)\n", *out)
	return nil
}

// progressLine returns a Progress that keeps one line on w up to date.
func progressLine(w io.Writer, what string) viewer.Progress {
	last := -1
	return func(done, total int) {
		pct := 100 * done / max(total, 1)
		if pct != last {
			last = pct
			fmt.Fprintf(w, "\r%s: %3d%%", what, pct)
		}
	}
}

// open reads the studies at paths and fails when there are none.
func open(paths []string, stderr io.Writer) (*viewer.ScanResult, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := viewer.Open(ctx, paths)
	if err != nil {
		return nil, err
	}
	if len(res.Studies) == 0 {
		msg := fmt.Sprintf("no DICOM or BraTS study found in %s", strings.Join(paths, ", "))
		for _, r := range res.Rejected[:min(len(res.Rejected), 5)] {
			msg += "\n  " + rejection(r)
		}
		if len(res.Rejected) > 5 {
			msg += fmt.Sprintf("\n  … and %d more files", len(res.Rejected)-5)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	return res, nil
}

// cmdInfo lists studies and series.
func cmdInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: info needs at least one PATH", errUsage)
	}
	res, err := open(fs.Args(), stderr)
	if err != nil {
		return err
	}
	for _, st := range res.Studies {
		fmt.Fprintf(stdout, "Study %s\n  patient %q id %q  date %s  %q\n", st.UID, st.PatientName, st.PatientID, st.StudyDate, st.Description)
		if st.Labels != nil {
			fmt.Fprintf(stdout, "  label map: %v voxels, %s\n", st.Labels.Size, st.Labels.Source)
		}
		for _, f := range st.SEGs {
			fmt.Fprintf(stdout, "  SEG series %d  %q  %s\n", f.SeriesNumber, f.Description, f.Path)
		}
		for _, se := range st.Series {
			g := se.Grid
			fmt.Fprintf(stdout, "  Series %d  %-5s  %q  %s, %d files\n", se.Number, se.Type, se.Description, se.Modality, len(se.Instances))
			fmt.Fprintf(stdout, "    grid %d×%d×%d  spacing %.4g×%.4g×%.4g mm  origin (%.2f, %.2f, %.2f)  rows %s cols %s\n",
				g.Size[0], g.Size[1], g.Size[2], g.Spacing[0], g.Spacing[1], g.Spacing[2],
				g.Origin[0], g.Origin[1], g.Origin[2], vec(g.Direction[0]), vec(g.Direction[1]))
			for _, enc := range encodings(se) {
				fmt.Fprintf(stdout, "    encoding: %s\n", enc)
			}
			for _, p := range se.Problems {
				fmt.Fprintf(stdout, "    problem: %s\n", p)
			}
		}
	}
	if len(res.Rejected) > 0 {
		fmt.Fprintf(stdout, "Skipped %d files:\n", len(res.Rejected))
		for _, r := range res.Rejected {
			fmt.Fprintf(stdout, "  %s\n", rejection(r))
		}
	}
	return nil
}

// encodings lists the compressed transfer syntaxes of a series' files, each marked when this build cannot
// decode it.
func encodings(se *viewer.Series) []string {
	seen := map[string]bool{}
	var out []string
	for _, in := range se.Instances {
		ts := in.TransferSyntax
		s, err := dicomkit.LookupSyntax(ts)
		if seen[ts] || err != nil || !s.Compressed() {
			continue
		}
		seen[ts] = true
		e := s.String()
		if !viewer.CanDecode(ts) {
			e += " (no decoder in this build: the server can transcode it)"
		}
		out = append(out, e)
	}
	return out
}

// rejection says which file was left out and why, naming the file once.
func rejection(r viewer.Rejected) string {
	if strings.Contains(r.Err.Error(), r.Path) {
		return r.Err.Error()
	}
	return fmt.Sprintf("%s: %v", r.Path, r.Err)
}

func vec(v viewer.Vec3) string { return fmt.Sprintf("(%.3g, %.3g, %.3g)", v[0], v[1], v[2]) }

// renderRequest is what the command line of render asks for.
type renderRequest struct {
	input, series, out string
	orient             render.Orientation
	slice              int            // -1: where the viewer opens the plane
	window             *viewer.Window // nil: the series' first preset
	overlay            bool
}

// parseRender reads render's command line.
func parseRender(args []string, stderr io.Writer) (renderRequest, error) {
	var rq renderRequest
	fs := newFlags("render", stderr)
	fs.StringVar(&rq.input, "input", "", "DICOM file or folder, or BraTS NIfTI folder")
	fs.StringVar(&rq.series, "series", "", "series: T1, T1CE, T2, FLAIR, a series number or a SeriesInstanceUID (default: the study's only series)")
	planeName := fs.String("plane", "axial", "axial, coronal or sagittal")
	fs.IntVar(&rq.slice, "slice", -1, "slice number from 0 (default: as the viewer opens, the slice with the most labelled voxels, else the middle one)")
	wl := fs.String("wl", "", "window CENTER,WIDTH (default: the series' first preset: file window, else auto)")
	fs.BoolVar(&rq.overlay, "overlay", false, "draw the study's label map over the image")
	fs.StringVar(&rq.out, "out", "", "PNG file to write")
	if err := parse(fs, args); err != nil {
		return rq, err
	}
	if rq.input == "" || rq.out == "" || fs.NArg() > 0 {
		return rq, fmt.Errorf("%w: render needs --input PATH and --out FILE.png", errUsage)
	}
	var ok bool
	rq.orient, ok = map[string]render.Orientation{"axial": render.Axial, "coronal": render.Coronal, "sagittal": render.Sagittal}[strings.ToLower(*planeName)]
	if !ok {
		return rq, fmt.Errorf("%w: --plane %q: want axial, coronal or sagittal", errUsage, *planeName)
	}
	if *wl != "" {
		c, w, ok := strings.Cut(*wl, ",")
		center, err1 := strconv.ParseFloat(strings.TrimSpace(c), 64)
		width, err2 := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if !ok || err1 != nil || err2 != nil || width < 1 {
			return rq, fmt.Errorf("%w: --wl %q: want CENTER,WIDTH with WIDTH ≥ 1, for example 450,900", errUsage, *wl)
		}
		rq.window = &viewer.Window{Center: center, Width: width}
	}
	return rq, nil
}

// cmdRender writes one slice as the viewer draws it.
func cmdRender(args []string, stdout, stderr io.Writer) error {
	rq, err := parseRender(args, stderr)
	if err != nil {
		return err
	}
	res, err := open([]string{rq.input}, stderr)
	if err != nil {
		return err
	}
	st, err := oneExam(rq.input, res.Studies) // a session written one study per series is one exam
	if err != nil {
		return err
	}
	se, err := viewer.FindSeries(st, rq.series)
	if errors.Is(err, viewer.ErrSeveralSeries) {
		return fmt.Errorf("%v; pick one with --series", err)
	}
	if err != nil {
		return err
	}
	vol, err := viewer.LoadSeries(context.Background(), se, nil)
	if err != nil {
		return err
	}
	plane, err := render.NewPlane(vol.Geometry, rq.orient)
	if err != nil {
		return err
	}
	labels := st.Labels
	if labels != nil && !labels.Geometry.SameGrid(vol.Geometry, 1e-3) {
		labels = nil
	}
	var segWhy []string // why the SEGs found with the study could not be drawn
	if rq.overlay && st.Labels == nil && len(st.SEGs) > 0 {
		labels, segWhy = segOverlay(st, se)
	}
	n := rq.slice
	if n < 0 {
		n = plane.StartSlice(labels)
	}
	if n >= plane.Slices() {
		return fmt.Errorf("--slice %d: the %s plane of series %s has slices 0 to %d", n, rq.orient, se.Type, plane.Slices()-1)
	}
	window := rq.window
	if window == nil {
		w := render.DefaultWindow(vol)
		window = &w
	}
	lut, err := render.NewLUT(*window, false)
	if err != nil {
		return err
	}
	var ov *render.Overlay
	if rq.overlay {
		switch {
		case st.Labels == nil && labels == nil && len(segWhy) > 0:
			return fmt.Errorf("--overlay: no DICOM SEG of study %s can be drawn on series %s: %s", st.UID, se.Type, strings.Join(segWhy, "; "))
		case st.Labels == nil && labels == nil:
			return fmt.Errorf("--overlay: study %s has no label map (a *_seg NIfTI in a BraTS folder, or %s or a DICOM SEG beside DICOM)", st.UID, viewer.LabelsFile)
		case labels == nil:
			return fmt.Errorf("--overlay: the label map (%v voxels) is not on the grid of series %s (%v voxels)", st.Labels.Size, se.Type, vol.Size)
		}
		ov = &render.Overlay{Map: labels, Opacity: render.DefaultOverlayOpacity}
	}
	img := image.NewRGBA(plane.Bounds())
	if err := plane.RenderRGBA(img, vol, n, lut, ov); err != nil {
		return err
	}
	if err := writePNG(rq.out, squarePixels(img, plane)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s %s slice %d/%d, W %.0f L %.0f\n", rq.out, se.Type, rq.orient, n, plane.Slices()-1, window.Width, window.Center)
	return nil
}

// writePNG writes img to path as PNG.
func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// squarePixels resamples img (nearest neighbour) so that its pixels are square in millimetres, as the
// viewer draws it; images whose pixels are square already are returned as they are.
func squarePixels(img *image.RGBA, p render.Plane) image.Image {
	su, sv := p.PixelSpacing()
	if su == sv {
		return img
	}
	s := min(su, sv)
	b := img.Bounds()
	w, h := int(float64(b.Dx())*su/s+0.5), int(float64(b.Dy())*sv/s+0.5)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		sy := min(int((float64(y)+0.5)*s/sv), b.Dy()-1)
		for x := 0; x < w; x++ {
			sx := min(int((float64(x)+0.5)*s/su), b.Dx()-1)
			copy(out.Pix[y*out.Stride+4*x:y*out.Stride+4*x+4], img.Pix[sy*img.Stride+4*sx:sy*img.Stride+4*sx+4])
		}
	}
	return out
}
