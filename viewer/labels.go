package viewer

import (
	"fmt"
	"image/color"
)

// Tumour labels, as the M1 model outputs them. BraTS files store enhancing tumour as 4; readers map it to
// LabelET so that every layer sees one convention.
const (
	LabelBackground uint8 = 0
	LabelNCR        uint8 = 1 // necrotic / non-enhancing tumour core
	LabelED         uint8 = 2 // peritumoural oedema
	LabelET         uint8 = 3 // enhancing tumour
)

// Label names one value of a label map and how to draw it.
type Label struct {
	Value uint8
	Name  string
	Color color.NRGBA
}

// TumourLabels are the BraTS tumour classes with the colours radiologists expect (red core, green oedema,
// yellow enhancing rim).
var TumourLabels = []Label{
	{LabelNCR, "Necrotic core (NCR)", color.NRGBA{R: 230, G: 40, B: 40, A: 255}},
	{LabelED, "Oedema (ED)", color.NRGBA{R: 40, G: 200, B: 60, A: 255}},
	{LabelET, "Enhancing tumour (ET)", color.NRGBA{R: 250, G: 220, B: 30, A: 255}},
}

// LabelMap is a segmentation on a Geometry: one label value per voxel.
type LabelMap struct {
	Geometry
	Data   []uint8
	Labels []Label
	Source string // where it came from: "ground truth (NIfTI)", a model id, a SEG series UID…
}

// NewLabelMap allocates an empty tumour label map.
func NewLabelMap(g Geometry) *LabelMap {
	return &LabelMap{Geometry: g, Data: make([]uint8, g.Len()), Labels: TumourLabels}
}

// Check reports a label map whose data does not match its geometry.
func (m *LabelMap) Check() error {
	if err := m.Geometry.Validate(); err != nil {
		return err
	}
	if len(m.Data) != m.Len() {
		return fmt.Errorf("label map: %d values for %v", len(m.Data), m.Size)
	}
	return nil
}

// Counts returns the number of voxels per label value.
func (m *LabelMap) Counts() [256]int {
	var c [256]int
	for _, x := range m.Data {
		c[x]++
	}
	return c
}

// Label returns the description of value v, if the map has one.
func (m *LabelMap) Label(v uint8) (Label, bool) {
	for _, l := range m.Labels {
		if l.Value == v {
			return l, true
		}
	}
	return Label{}, false
}
