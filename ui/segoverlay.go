package ui

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/viewer"
)

// loadSEGs reads the DICOM SEGs found with st in a worker and lists them in the overlay panel.
func (w *Workstation) loadSEGs(st *viewer.Study) {
	w.Overlay.SetSEGs(nil)
	if len(st.SEGs) == 0 {
		return
	}
	files := slices.Clone(st.SEGs)
	go func() {
		choices := make([]SEGChoice, len(files))
		for i, f := range files {
			c := SEGChoice{File: f}
			data, err := os.ReadFile(f.Path)
			if err == nil {
				c.Seg, err = dicomseg.Parse(data)
			}
			c.Err = err
			if c.Seg != nil {
				for _, sg := range c.Seg.Segments {
					c.Segments = append(c.Segments, sg.Label)
				}
			}
			choices[i] = c
		}
		do(func() {
			if w.Reading.Study() == st {
				w.Overlay.SetSEGs(choices)
			}
		})
	}()
}

// showSEG places SEG c on the series it references (else the active viewport's) in a worker and draws it.
func (w *Workstation) showSEG(c SEGChoice) {
	st := w.Reading.Study()
	if st == nil || c.Seg == nil {
		return
	}
	var ref *viewer.Series
	for _, se := range st.Series {
		if se.UID == c.Seg.ReferencedSeriesUID {
			ref = se
		}
	}
	if vp := w.Reading.Active(); ref == nil && vp != nil {
		ref = vp.Series()
	}
	if ref == nil {
		w.message.SetText(fmt.Sprintf("SEG %d: no series to draw it on", c.File.SeriesNumber))
		return
	}
	go func() {
		m, err := placeSEG(c.Seg, ref)
		do(func() {
			if w.Reading.Study() != st {
				return
			}
			if err != nil {
				w.message.SetText(fmt.Sprintf("SEG %d cannot be drawn on series %d: %v", c.File.SeriesNumber, ref.Number, err))
				return
			}
			w.message.SetText("")
			w.showLabels(m, "")
			w.setOverlayVisible(true)
		})
	}()
}

// placeSEG places s on ref; a series listed from the cache has no grid or positions yet: its files are read
// again first.
func placeSEG(s *dicomseg.Seg, ref *viewer.Series) (*viewer.LabelMap, error) {
	if ref.Grid.Size == ([3]int{}) && len(ref.Instances) > 0 {
		scanned, err := viewer.ScanSeries(context.Background(), ref)
		if err != nil {
			return nil, err
		}
		ref = scanned
	}
	return s.LabelMap(ref)
}
