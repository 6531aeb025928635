package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/viewer"
)

// segOverlay reads the DICOM SEGs found with st and returns the first one that lies on series se's grid
// (those that reference se first), with why each SEG tried before could not be used.
func segOverlay(st *viewer.Study, se *viewer.Series) (*viewer.LabelMap, []string) {
	type found struct {
		file viewer.SEGFile
		seg  *dicomseg.Seg
	}
	var segs []found
	var why []string
	for _, f := range st.SEGs {
		data, err := os.ReadFile(f.Path)
		if err == nil {
			var s *dicomseg.Seg
			if s, err = dicomseg.Parse(data); err == nil {
				segs = append(segs, found{f, s})
				continue
			}
		}
		why = append(why, fmt.Sprintf("%s: %v", filepath.Base(f.Path), err))
	}
	slices.SortStableFunc(segs, func(a, b found) int {
		own := func(x found) int {
			if x.seg.ReferencedSeriesUID == se.UID {
				return 0
			}
			return 1
		}
		return cmp.Compare(own(a), own(b))
	})
	for _, s := range segs {
		m, err := s.seg.LabelMap(se)
		if err == nil {
			return m, why
		}
		why = append(why, fmt.Sprintf("%s: %v", filepath.Base(s.file.Path), err))
	}
	return nil, why
}
