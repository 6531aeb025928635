package m1

import (
	"fmt"

	"github.com/neuronova/neuronova/viewer"
)

// RegionDice is one region's overlap between a label map and a reference on the same grid.
type RegionDice struct {
	Name      string  `json:"name"`
	Dice      float64 `json:"dice"` // 1 when the region is empty in both
	Voxels    int     `json:"voxels"`
	Reference int     `json:"reference_voxels"`
}

// CompareRegions are the regions Compare reports, in order, with their label values.
var CompareRegions = []struct {
	Name   string
	Labels []uint8
}{
	{"WT", []uint8{viewer.LabelNCR, viewer.LabelED, viewer.LabelET}},
	{"TC", []uint8{viewer.LabelNCR, viewer.LabelET}},
	{"ET", []uint8{viewer.LabelET}},
	{"NCR", []uint8{viewer.LabelNCR}},
	{"ED", []uint8{viewer.LabelED}},
}

// Compare returns the Dice coefficient of WT, TC, ET, NCR and ED between got and want, which must share a grid.
func Compare(got, want *viewer.LabelMap) ([]RegionDice, error) {
	if !got.SameGrid(want.Geometry, 1e-3) {
		return nil, fmt.Errorf("m1: label maps on different grids (%v at %v mm and %v at %v mm)", got.Size, got.Spacing, want.Size, want.Spacing)
	}
	var out []RegionDice
	for _, r := range CompareRegions {
		var in [256]bool
		for _, l := range r.Labels {
			in[l] = true
		}
		d := RegionDice{Name: r.Name}
		inter := 0
		for i, a := range got.Data {
			x, y := in[a], in[want.Data[i]]
			if x {
				d.Voxels++
			}
			if y {
				d.Reference++
			}
			if x && y {
				inter++
			}
		}
		d.Dice = 1
		if d.Voxels+d.Reference > 0 {
			d.Dice = 2 * float64(inter) / float64(d.Voxels+d.Reference)
		}
		out = append(out, d)
	}
	return out, nil
}
