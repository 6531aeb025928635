package m1

import (
	"fmt"
	"math"
	"slices"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/viewer"
)

// spec is what the pipeline takes from a card.
type spec struct {
	input        *model.Input
	prep         *model.Preprocessing
	channels     [4]int      // input channel c holds viewer.BrainTumourTypes[channels[c]]
	spacing      viewer.Vec3 // model grid spacing (window mode)
	roi          [3]int      // window size on the grid axes x, y, z; fit mode: the fitted grid size
	window       bool        // sliding windows at native resolution, else one input fitted to the crop
	flips        [][3]bool   // test-time flips on the grid axes x, y, z (the plain run not included)
	seg          *model.Output
	decode       decoder
	regions      []model.Region
	headsImage   *model.Input // the heads' own inputs, when they run apart from the windows
	headsProbs   *model.Input
	grade, idh   *model.Output
	mgmt, risk   *model.Output
	embedding    *model.Output
	headsInGraph bool // the heads are outputs of the window run itself (fit mode, one window)
}

// hasHeads reports whether the card declares the grade, IDH, MGMT, risk and embedding outputs.
func (s *spec) hasHeads() bool { return s.grade != nil }

// CheckCard reports whether this pipeline can run the card's model (what `neuronova models add` checks).
func CheckCard(c *model.Card) error {
	if c.Family != model.FamilyM1 {
		return fmt.Errorf("%w: %s is an %s model", inference.ErrWrongFamily, c.ID, c.Family)
	}
	_, err := cardSpec(c)
	return err
}

// cardSpec checks that the card is one this pipeline can run.
func cardSpec(c *model.Card) (*spec, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrUnsupportedCard, c.ID, fmt.Sprintf(format, a...))
	}
	s := &spec{}
	for i := range c.Inputs {
		in := &c.Inputs[i]
		switch in.Role {
		case "":
			if s.input != nil {
				return nil, bad("more than one image input (%s, %s); give the others a role", s.input.Name, in.Name)
			}
			s.input = in
		case model.RoleHeadsImage:
			s.headsImage = in
		case model.RoleHeadsProbabilities:
			s.headsProbs = in
		default:
			return nil, bad("input %s has role %q, not %q or %q", in.Name, in.Role, model.RoleHeadsImage, model.RoleHeadsProbabilities)
		}
	}
	if s.input == nil {
		return nil, bad("no image input")
	}
	if err := s.inputSpec(c); err != nil {
		return nil, bad("%v", err)
	}
	if err := s.outputSpec(c); err != nil {
		return nil, bad("%v", err)
	}
	return s, nil
}

func (s *spec) inputSpec(c *model.Card) error {
	in := s.input
	if len(in.ChannelOrder) != 4 {
		return fmt.Errorf("input channel_order %v: want T1, T1CE, T2 and FLAIR in any order", in.ChannelOrder)
	}
	seen := map[int]bool{}
	for k, name := range in.ChannelOrder {
		t, ok := viewer.ParseSeriesType(name)
		i := slices.Index(viewer.BrainTumourTypes, t)
		if !ok || i < 0 || seen[i] {
			return fmt.Errorf("input channel_order %v: want T1, T1CE, T2 and FLAIR in any order", in.ChannelOrder)
		}
		seen[i], s.channels[k] = true, i
	}
	if len(in.Shape) != 5 || !in.Shape[1].IsFixed() || in.Shape[1].Value != 4 {
		return fmt.Errorf("input shape %v, want [N, 4, D, H, W]", in.Shape)
	}
	p := in.Preprocessing
	if p == nil {
		return fmt.Errorf("input %s has no preprocessing", in.Name)
	}
	s.prep = p
	switch p.Normalisation {
	case model.NormZScoreBrain, model.NormPercentile, model.NormNone:
	case model.NormFixed:
		if len(p.ChannelMean) != 4 {
			return fmt.Errorf("channel_mean and channel_sd need 4 values")
		}
	default:
		return fmt.Errorf("input normalisation %q is not one of %s, %s, %s, %s", p.Normalisation,
			model.NormZScoreBrain, model.NormPercentile, model.NormFixed, model.NormNone)
	}
	if p.Crop != "brain-bbox" {
		return fmt.Errorf("preprocessing crop %q, want \"brain-bbox\"", p.Crop)
	}
	if len(p.SpacingMM) != 3 {
		return fmt.Errorf("preprocessing spacing_mm %v, want three (x, y, z) spacings", p.SpacingMM)
	}
	var size []int64
	if p.Window != nil {
		s.window = true
		s.spacing = viewer.Vec3{p.SpacingMM[0], p.SpacingMM[1], p.SpacingMM[2]}
		size = p.Window.ROI
	} else {
		if p.SpacingMM[0] != 1 || p.SpacingMM[1] != 1 || p.SpacingMM[2] != 1 {
			return fmt.Errorf("preprocessing spacing_mm %v: a fitted input (size) works on the 1 mm grid", p.SpacingMM)
		}
		if len(p.Size) != 3 {
			return fmt.Errorf("preprocessing needs window (sliding windows) or size (D, H, W: one input fitted to the crop)")
		}
		size = p.Size
	}
	for a := 0; a < 3; a++ {
		d := in.Shape[2+a]
		if size[a] < 8 || size[a] > 512 || (d.IsFixed() && d.Value != size[a]) {
			return fmt.Errorf("window or size %v does not fit the input shape %v", size, in.Shape)
		}
	}
	if p.Window != nil && p.Window.Batch > 1 && in.Shape[0].IsFixed() && in.Shape[0].Value != int64(p.Window.Batch) {
		return fmt.Errorf("window batch %d, but the input's first dimension is fixed at %d", p.Window.Batch, in.Shape[0].Value)
	}
	// D, H, W → grid axes x (W), y (H), z (D).
	s.roi = [3]int{int(size[2]), int(size[1]), int(size[0])}
	for _, f := range p.TestTimeFlips {
		var fl [3]bool
		for _, r := range f {
			fl[r-'x'] = true
		}
		s.flips = append(s.flips, fl)
	}
	return nil
}

func (s *spec) outputSpec(c *model.Card) error {
	for i := range c.Outputs {
		o := &c.Outputs[i]
		switch {
		case len(o.Classes) > 0 || o.Activation == "sigmoid" && len(o.Regions) > 0 && o.Regions[0].Channel != nil:
			if s.seg != nil {
				return fmt.Errorf("two segmentation outputs (%s, %s)", s.seg.Name, o.Name)
			}
			s.seg = o
		case o.Name == "grade":
			s.grade = o
		case o.Name == "idh":
			s.idh = o
		case o.Name == "mgmt":
			s.mgmt = o
		case o.Bands != nil:
			s.risk = o
		case o.Name == "embedding":
			s.embedding = o
		}
	}
	if s.seg == nil {
		return fmt.Errorf("no segmentation output (softmax classes, or sigmoid regions with channels)")
	}
	if len(s.seg.Shape) != 5 {
		return fmt.Errorf("output %s shape %v, want [N, C, D, H, W]", s.seg.Name, s.seg.Shape)
	}
	var err error
	if s.decode, s.regions, err = newDecoder(s.seg); err != nil {
		return fmt.Errorf("output %s: %v", s.seg.Name, err)
	}
	heads := []*model.Output{s.grade, s.idh, s.mgmt, s.risk, s.embedding}
	n := 0
	for _, h := range heads {
		if h != nil {
			n++
		}
	}
	switch {
	case n == 0:
		if s.headsImage != nil || s.headsProbs != nil {
			return fmt.Errorf("heads inputs without grade, idh, mgmt, risk and embedding outputs")
		}
		return nil
	case n < len(heads):
		return fmt.Errorf("heads need all of grade, idh, mgmt, a risk output with bands, and embedding")
	}
	for _, h := range []*model.Output{s.grade, s.idh, s.mgmt} {
		if h.Activation != "softmax" || len(h.Labels) < 2 {
			return fmt.Errorf("output %s must be softmax over labelled classes", h.Name)
		}
	}
	if s.risk.Activation != "sigmoid" {
		return fmt.Errorf("output %s must be a sigmoid", s.risk.Name)
	}
	switch {
	case s.headsImage != nil && s.headsProbs != nil:
		for _, in := range []*model.Input{s.input, s.headsImage, s.headsProbs} {
			if in.IdleShape == nil {
				return fmt.Errorf("input %s needs an idle_shape: the windows and the heads run apart", in.Name)
			}
		}
	case s.headsImage != nil || s.headsProbs != nil:
		return fmt.Errorf("heads inputs come in pairs: %s and %s", model.RoleHeadsImage, model.RoleHeadsProbabilities)
	case s.window:
		return fmt.Errorf("heads in the window network cannot see the whole brain: give them inputs with roles %s and %s",
			model.RoleHeadsImage, model.RoleHeadsProbabilities)
	default:
		s.headsInGraph = true
	}
	return nil
}

// decoder turns one voxel's segmentation output (one value per channel) into a viewer label.
type decoder struct {
	channels int
	// softmax: classOf[channel] is the label, or -1 for a channel no class names (never chosen).
	classOf []int
	// sigmoid: the channels of TC, WT and ET and their thresholds (as logits when the output is logits).
	sigmoid bool
	ch      [3]int // TC, WT, ET
	thr     [3]float32
}

func newDecoder(o *model.Output) (decoder, []model.Region, error) {
	c := o.Shape[1]
	if !c.IsFixed() || c.Value < 2 || c.Value > 64 {
		return decoder{}, nil, fmt.Errorf("channel dimension %v: want a fixed 2–64", c)
	}
	d := decoder{channels: int(c.Value)}
	switch o.Activation {
	case "softmax":
		d.classOf = make([]int, d.channels)
		for i := range d.classOf {
			d.classOf[i] = -1
		}
		have := map[uint8]bool{}
		for _, cl := range o.Classes {
			v, ok := labelValue(cl.Label)
			if !ok {
				return d, nil, fmt.Errorf("class %d label %q is not BG, NCR, ED or ET", cl.Index, cl.Label)
			}
			if cl.Index < 0 || cl.Index >= d.channels || d.classOf[cl.Index] >= 0 {
				return d, nil, fmt.Errorf("class index %d is outside the %d channels or given twice", cl.Index, d.channels)
			}
			d.classOf[cl.Index] = int(v)
			have[v] = true
		}
		if !have[viewer.LabelBackground] || len(have) < 2 {
			return d, nil, fmt.Errorf("classes must include BG and at least one of NCR, ED, ET")
		}
		return d, classRegions(o.Regions, d.classOf), nil
	case "sigmoid":
		if len(o.Classes) > 0 {
			return d, nil, fmt.Errorf("a sigmoid output gives regions with channels, not classes")
		}
		found := 0
		for _, r := range o.Regions {
			k := slices.Index([]string{"TC", "WT", "ET"}, r.Name)
			if k < 0 || r.Channel == nil || *r.Channel >= d.channels {
				return d, nil, fmt.Errorf("region %s: want TC, WT and ET, each with a channel below %d", r.Name, d.channels)
			}
			d.ch[k], d.thr[k] = *r.Channel, float32(r.Threshold)
			if o.Logits {
				d.thr[k] = float32(math.Log(r.Threshold / (1 - r.Threshold)))
			}
			found |= 1 << k
		}
		if found != 7 || len(o.Regions) != 3 {
			return d, nil, fmt.Errorf("a sigmoid output needs exactly the regions TC, WT and ET")
		}
		d.sigmoid = true
		return d, standardRegions(), nil
	}
	return d, nil, fmt.Errorf("activation %q: want softmax (classes) or sigmoid (TC, WT, ET regions)", o.Activation)
}

func labelValue(l string) (uint8, bool) {
	switch l {
	case "BG":
		return viewer.LabelBackground, true
	case "NCR":
		return viewer.LabelNCR, true
	case "ED":
		return viewer.LabelED, true
	case "ET":
		return viewer.LabelET, true
	}
	return 0, false
}

// standardRegions are WT, TC and ET as label values.
func standardRegions() []model.Region {
	n, e, t := int(viewer.LabelNCR), int(viewer.LabelED), int(viewer.LabelET)
	return []model.Region{{Name: "WT", Classes: []int{n, e, t}}, {Name: "TC", Classes: []int{n, t}}, {Name: "ET", Classes: []int{t}}}
}

// classRegions states the card's regions as label values (Classes then hold labels, not channel indices);
// without regions in the card, WT, TC and ET.
func classRegions(rs []model.Region, classOf []int) []model.Region {
	if len(rs) == 0 {
		return standardRegions()
	}
	out := make([]model.Region, len(rs))
	for i, r := range rs {
		out[i] = model.Region{Name: r.Name}
		for _, k := range r.Classes {
			if v := classOf[k]; v > 0 && !slices.Contains(out[i].Classes, v) {
				out[i].Classes = append(out[i].Classes, v)
			}
		}
	}
	return out
}

// label decodes one voxel: v[c*stride] is channel c.
func (d *decoder) label(v []float32, stride int) uint8 {
	if d.sigmoid {
		switch {
		case v[d.ch[2]*stride] > d.thr[2]:
			return viewer.LabelET
		case v[d.ch[0]*stride] > d.thr[0]:
			return viewer.LabelNCR
		case v[d.ch[1]*stride] > d.thr[1]:
			return viewer.LabelED
		}
		return viewer.LabelBackground
	}
	best, bp := -1, float32(0)
	for c, l := range d.classOf {
		if l < 0 {
			continue
		}
		if p := v[c*stride]; best < 0 || p > bp {
			best, bp = c, p
		}
	}
	return uint8(d.classOf[best])
}
