package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
)

// MeasurementPanel keeps the session's measurements by series, kept in the library too (so that they are
// there when a study opens again, any day), lists those of the exam shown with a button to go to each and
// one to delete it, sums RANO's products of the measurable bidimensional ones, and exports them as DICOM
// SR through the outbox.
type MeasurementPanel struct {
	w        *Workstation
	bySeries map[string][]measure.Measurement
	list     *fyne.Container
	summary  *widget.Label
	message  *widget.Label
	export   *hotButton
	job      *task
	box      fyne.CanvasObject
}

func newMeasurementPanel(w *Workstation) *MeasurementPanel {
	p := &MeasurementPanel{w: w, bySeries: map[string][]measure.Measurement{}, list: container.NewVBox(),
		summary: widget.NewLabel(""), message: widget.NewLabel(""), job: newTask()}
	p.summary.Wrapping, p.message.Wrapping = fyne.TextWrapWord, fyne.TextWrapWord
	p.export = newButton("Export as DICOM SR", "A TID 1500 measurement report per study, sent at the next sync", p.ExportSR)
	p.box = container.NewBorder(nil, container.NewVBox(p.summary, p.export, p.job.content(), p.message), nil, nil, container.NewVScroll(p.list))
	p.refresh()
	return p
}

// Content is the panel's canvas object.
func (p *MeasurementPanel) Content() fyne.CanvasObject { return p.box }

// Of returns the measurements of series uid.
func (p *MeasurementPanel) Of(uid string) []measure.Measurement { return p.bySeries[uid] }

// changed records a measurement made, edited or removed in a viewport, and keeps it in the library.
func (p *MeasurementPanel) changed(m measure.Measurement, removed bool) {
	ms := p.bySeries[m.SeriesUID]
	i := slices.IndexFunc(ms, func(x measure.Measurement) bool { return x.ID == m.ID })
	switch {
	case removed && i >= 0:
		ms = slices.Delete(ms, i, i+1)
	case !removed && i >= 0:
		ms[i] = m
	case !removed:
		ms = append(ms, m)
	}
	p.bySeries[m.SeriesUID] = ms
	p.refresh()
	lib := p.w.lib
	if lib == nil {
		return
	}
	go func() {
		var err error
		if removed {
			err = lib.DeleteMeasurement(context.Background(), m.ID)
		} else {
			err = lib.SaveMeasurement(context.Background(), m)
		}
		if err != nil {
			do(func() { p.message.SetText("Measurement not kept: " + err.Error()) })
		}
	}()
}

// load reads the measurements kept on the series of the exams shown, in a worker, and shows them.
func (p *MeasurementPanel) load(exams ...*viewer.Study) {
	p.refresh()
	lib := p.w.lib
	if lib == nil {
		return
	}
	var uids []string
	for _, ex := range exams {
		if ex == nil {
			continue
		}
		for _, se := range ex.Series {
			uids = append(uids, se.UID)
		}
	}
	go func() {
		ms, err := lib.Measurements(context.Background(), uids)
		do(func() {
			if err != nil {
				p.message.SetText("Measurements: " + err.Error())
			}
			got := map[string][]measure.Measurement{}
			for _, m := range ms {
				got[m.SeriesUID] = append(got[m.SeriesUID], m)
			}
			for _, uid := range uids {
				if kept, ok := got[uid]; ok || p.bySeries[uid] == nil {
					p.bySeries[uid] = kept
				}
				p.w.Reading.ShowMeasurements(uid, p.bySeries[uid], nil)
			}
			p.refresh()
		})
	}()
}

// shown returns the measurements of the exam shown (and the prior), by series order, plane and slice.
func (p *MeasurementPanel) shown() []measure.Measurement {
	var out []measure.Measurement
	for _, ex := range []*viewer.Study{p.w.Reading.Study(), p.w.Reading.Prior()} {
		if ex == nil {
			continue
		}
		for _, se := range ex.Series {
			ms := slices.Clone(p.bySeries[se.UID])
			slices.SortStableFunc(ms, func(a, b measure.Measurement) int {
				if a.Plane != b.Plane {
					return int(a.Plane) - int(b.Plane)
				}
				return a.Slice - b.Slice
			})
			out = append(out, ms...)
		}
	}
	return out
}

// refresh lists the measurements of the exam shown.
func (p *MeasurementPanel) refresh() {
	ms := p.shown()
	var rows []fyne.CanvasObject
	var rano measure.RANO
	measurable, bidi := 0, 0
	for _, m := range ms {
		rows = append(rows, p.row(m))
		if m.Kind == measure.KindBidirectional {
			bidi++
			if r := measure.RANOOf(m.Length, m.Short, m.Thickness); r.Measurable {
				measurable++
				rano.Product += r.Product
			}
		}
	}
	if len(rows) == 0 {
		rows = append(rows, widget.NewLabel("No measurements on this exam: draw one with M (length), D (RANO bidimensional), N (angle), E or B (ROIs), X (probe)."))
		rows[0].(*widget.Label).Wrapping = fyne.TextWrapWord
	}
	p.list.Objects = rows
	p.list.Refresh()
	count := fmt.Sprintf("%d measurements", len(ms))
	if len(ms) == 1 {
		count = "1 measurement"
	}
	if bidi > 0 {
		count += fmt.Sprintf(". RANO: sum of products %.0f mm² over %d measurable of %d bidimensional.", rano.Product, measurable, bidi)
	}
	p.summary.SetText(count)
	if len(ms) == 0 || p.w.lib == nil {
		p.export.Disable()
	} else {
		p.export.Enable()
	}
}

// row is one measurement: where it is, what it says, and buttons to go to it and to delete it.
func (p *MeasurementPanel) row(m measure.Measurement) fyne.CanvasObject {
	where := fmt.Sprintf("%s %s %d", p.seriesName(m.SeriesUID), m.Plane, m.Slice+1)
	text := widget.NewLabel(where + ": " + strings.ReplaceAll(m.Text(), "\n", "  "))
	text.Wrapping = fyne.TextWrapWord
	goTo := newButton("Go", "Show this image in the active viewport", func() { p.Jump(m) })
	del := newButton("✕", "Delete this measurement", func() { p.Delete(m) })
	return container.NewBorder(nil, nil, nil, container.NewHBox(goTo, del), text)
}

// seriesName is a series' type and number.
func (p *MeasurementPanel) seriesName(uid string) string {
	for _, ex := range []*viewer.Study{p.w.Reading.Study(), p.w.Reading.Prior()} {
		if ex == nil {
			continue
		}
		if se := ex.SeriesByUID(uid); se != nil {
			return fmt.Sprintf("%s (Se %d)", se.Type, se.Number)
		}
	}
	return "series " + uid
}

// Jump shows measurement m's image: in the visible viewport that shows its series in its plane, else in the
// active viewport.
func (p *MeasurementPanel) Jump(m measure.Measurement) {
	r := p.w.Reading
	for _, vp := range r.Visible() {
		if pl, ok := vp.Plane(); ok && vp.Series().UID == m.SeriesUID && pl.Orientation() == m.Plane {
			r.Activate(r.Index(vp))
			vp.SetSlice(m.Slice)
			return
		}
	}
	var se *viewer.Series
	for _, ex := range []*viewer.Study{r.Study(), r.Prior()} {
		if ex != nil {
			for _, s := range ex.Series {
				if s.UID == m.SeriesUID {
					se = s
				}
			}
		}
	}
	if se == nil {
		return
	}
	i := r.active
	r.assign(i, se, m.Plane)
	r.withVolume(se, func(*viewer.Volume) {
		if r.Shown(i) == se {
			r.ports[i].SetSlice(m.Slice)
		}
	})
}

// Delete removes measurement m.
func (p *MeasurementPanel) Delete(m measure.Measurement) {
	p.changed(m, true)
	p.w.Reading.ShowMeasurements(m.SeriesUID, p.bySeries[m.SeriesUID], nil)
}

// ExportSR writes the exam's measurements as DICOM SR into the outbox, in a worker.
func (p *MeasurementPanel) ExportSR() {
	lib, ex := p.w.lib, p.w.Reading.Study()
	ms := p.shown()
	if lib == nil || ex == nil || len(ms) == 0 {
		return
	}
	observer := p.w.user()
	var report string
	p.job.start("DICOM SR", func(ctx context.Context, prog progressFunc) (err error) {
		prog("measurements", 0, len(ms))
		report, err = lib.ExportSR(ctx, ex, ms, observer)
		return err
	}, func(err error) {
		if err != nil {
			p.message.SetText("SR not exported: " + err.Error())
			return
		}
		p.message.SetText(report)
	})
}
