// Package m1 runs M1 models: four MRI sequences (T1, T1CE, T2, FLAIR) → a tumour label map on the reference
// series' own grid (0 background, 1 NCR, 2 ED, 3 ET), volumes in mL from the real voxel size, grade, IDH, MGMT
// and survival-risk heads with probabilities, and the 768-value embedding MM consumes.
//
// The pipeline: pick the sequences (the viewer's classifier, or a manual choice); load them; find the brain's
// bounding box on a 1 mm grid aligned with the patient axes; resample every sequence onto the model grid (that
// box resized with its aspect ratio kept and padded to the card's size) in patient coordinates, so different
// orientations and spacings are allowed; z-score each channel inside the brain as the card says; run; map the
// class probabilities back onto the reference series' grid (trilinear where neighbours disagree) and take the
// most probable class; count volumes with the reference grid's voxel volume.
//
// UI callers use Run with a *viewer.Study; Result.Labels is a *viewer.LabelMap ready for the overlay and
// Result.Banner must be shown beside it.
package m1

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/model"
	"github.com/neuronova/neuronova/inference/ort"
	"github.com/neuronova/neuronova/viewer"
)

// Errors callers branch on.
var (
	// ErrMissingSequence reports a study without one of the four sequences (and no manual choice for it).
	ErrMissingSequence = errors.New("m1: missing sequence")
	// ErrUnsupportedCard reports an M1 card whose inputs, outputs or preprocessing this pipeline cannot honour.
	ErrUnsupportedCard = errors.New("m1: unsupported model card")
)

// Stages reported to Progress and recorded in the result's timings, in order.
const (
	StageLoad        = "load"        // reading the four series (DICOM decode)
	StagePreprocess  = "preprocess"  // brain box, resampling, normalisation
	StageInference   = "inference"   // the network
	StagePostprocess = "postprocess" // mapping back to the reference grid, volumes, heads
)

// Progress receives the stage and how many of its total units are done. It may be nil.
type Progress func(stage string, done, total int)

// Request is one M1 run.
type Request struct {
	ModelID string        // "" = the registry's default M1 model
	Study   *viewer.Study // the series to choose from
	// Series overrides the classifier: channel (T1, T1CE, T2, FLAIR) → SeriesInstanceUID.
	Series map[viewer.SeriesType]string
	// Reference is the sequence whose grid the label map, the SEG and the volumes use; "" = T1CE.
	Reference viewer.SeriesType
	Progress  Progress
}

// Result is an M1 output with its provenance (banner included).
type Result struct {
	inference.Provenance
	// Labels is the segmentation on the reference series' grid; Labels.Source names the model. It is not part
	// of the JSON (the label map goes to a DICOM SEG and a NIfTI file).
	Labels        *viewer.LabelMap  `json:"-"`
	Reference     SeriesRef         `json:"reference_series"`
	Volumes       Volumes           `json:"volumes_ml"`
	Regions       []RegionVolume    `json:"regions"`
	Grade         ClassHead         `json:"grade"`
	IDH           ClassHead         `json:"idh"`
	MGMT          ClassHead         `json:"mgmt"`
	Risk          RiskHead          `json:"survival_risk"`
	Embedding     []float32         `json:"embedding"`
	Preprocessing PreprocessingInfo `json:"preprocessing"`
}

// SeriesRef identifies the reference series and its grid.
type SeriesRef struct {
	Type        viewer.SeriesType `json:"type"`
	SeriesUID   string            `json:"series_uid"`
	Description string            `json:"description,omitempty"`
	Size        [3]int            `json:"size"`
	SpacingMM   viewer.Vec3       `json:"spacing_mm"`
	VoxelMM3    float64           `json:"voxel_mm3"`
}

// Volumes are the tumour sub-region volumes in mL on the reference grid: voxel count × the reference voxel
// volume.
type Volumes struct {
	NCR float64 `json:"ncr"`
	ED  float64 `json:"ed"`
	ET  float64 `json:"et"`
	WT  float64 `json:"wt"` // NCR + ED + ET
	TC  float64 `json:"tc"` // NCR + ET
}

// RegionVolume is one region of the card (WT, TC, ET…) with its voxel count and volume.
type RegionVolume struct {
	Name   string  `json:"name"`
	Voxels int     `json:"voxels"`
	ML     float64 `json:"ml"`
}

// ClassHead is a classification head: the most probable class and every class's probability.
type ClassHead struct {
	PredictedClass string             `json:"predicted_class"`
	Probability    float64            `json:"probability"`
	Probabilities  map[string]float64 `json:"probabilities"`
}

// RiskHead is the survival-risk head: a score in (0, 1) and its group by the card's cut points.
type RiskHead struct {
	Score float64   `json:"risk_score"`
	Group string    `json:"risk_group"`
	Cuts  []float64 `json:"cuts"`
}

// PreprocessingInfo says what the network saw.
type PreprocessingInfo struct {
	BrainBoxMinMM  viewer.Vec3   `json:"brain_box_min_mm"`
	BrainBoxMaxMM  viewer.Vec3   `json:"brain_box_max_mm"`
	ModelGridSize  [3]int        `json:"model_grid_size"`
	ModelSpacingMM float64       `json:"model_spacing_mm"`
	ChannelMean    [4]float64    `json:"channel_mean"`
	ChannelSD      [4]float64    `json:"channel_sd"`
	Normalisation  string        `json:"normalisation"`
	Channels       []ChannelInfo `json:"channels"`
}

// ChannelInfo is one input sequence and how it was chosen.
type ChannelInfo struct {
	Channel   viewer.SeriesType `json:"channel"`
	SeriesUID string            `json:"series_uid"`
	Chosen    string            `json:"chosen_by"` // "classifier" or "manual"
	SpacingMM viewer.Vec3       `json:"spacing_mm"`
	Size      [3]int            `json:"size"`
}

// Select picks the four series in channel order: the manual choice when given, else the first series the
// classifier typed as that sequence.
func Select(st *viewer.Study, manual map[viewer.SeriesType]string) ([4]*viewer.Series, [4]string, error) {
	var out [4]*viewer.Series
	var how [4]string
	if st == nil {
		return out, how, fmt.Errorf("%w: no study", ErrMissingSequence)
	}
	for t := range manual {
		if !slices.Contains(viewer.BrainTumourTypes, t) {
			return out, how, fmt.Errorf("%w: manual choice for %q, which is not one of T1, T1CE, T2, FLAIR", ErrMissingSequence, t)
		}
	}
	var missing []string
	for c, t := range viewer.BrainTumourTypes {
		if uid, ok := manual[t]; ok {
			for _, se := range st.Series {
				if se.UID == uid {
					out[c], how[c] = se, "manual"
				}
			}
			if out[c] == nil {
				return out, how, fmt.Errorf("%w: %s was set to series %s, which the study does not have", ErrMissingSequence, t, uid)
			}
			continue
		}
		if se := st.SeriesByType(t); se != nil {
			out[c], how[c] = se, "classifier"
		} else {
			missing = append(missing, string(t))
		}
	}
	if len(missing) > 0 {
		return out, how, fmt.Errorf("%w: no %v series in study %s (choose them by hand)", ErrMissingSequence, missing, st.UID)
	}
	return out, how, nil
}

// spec is what the pipeline needs from a card.
type spec struct {
	input                         *model.Input
	size                          [3]int
	probs, grade, idh, mgmt, risk *model.Output
	embedding                     *model.Output
	classOf                       [4]uint8 // network class index → viewer label value
	regions                       []model.Region
	normalisation                 string
}

// cardSpec checks that the card is one this pipeline can run.
func cardSpec(c *model.Card) (*spec, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %s: %s", ErrUnsupportedCard, c.ID, fmt.Sprintf(format, a...))
	}
	if len(c.Inputs) != 1 {
		return nil, bad("want one image input, got %d", len(c.Inputs))
	}
	s := &spec{input: &c.Inputs[0]}
	in := s.input
	want := []string{"T1", "T1CE", "T2", "FLAIR"}
	if !slices.Equal(in.ChannelOrder, want) {
		return nil, bad("input channel_order %v, want %v", in.ChannelOrder, want)
	}
	if len(in.Shape) != 5 || !in.Shape[1].IsFixed() || in.Shape[1].Value != 4 {
		return nil, bad("input shape %v, want [N, 4, D, H, W]", in.Shape)
	}
	p := in.Preprocessing
	if p == nil || p.Normalisation != model.NormZScoreBrain {
		return nil, bad("input normalisation must be %q", model.NormZScoreBrain)
	}
	if len(p.SpacingMM) != 3 || p.SpacingMM[0] != 1 || p.SpacingMM[1] != 1 || p.SpacingMM[2] != 1 {
		return nil, bad("preprocessing spacing_mm %v, want [1, 1, 1]", p.SpacingMM)
	}
	if p.Crop != "brain-bbox" {
		return nil, bad("preprocessing crop %q, want \"brain-bbox\"", p.Crop)
	}
	if len(p.Size) != 3 {
		return nil, bad("preprocessing size %v, want three dimensions (D, H, W)", p.Size)
	}
	for a := 0; a < 3; a++ {
		d := in.Shape[2+a]
		if p.Size[a] < 8 || p.Size[a] > 512 || (d.IsFixed() && d.Value != p.Size[a]) {
			return nil, bad("preprocessing size %v does not fit the input shape %v", p.Size, in.Shape)
		}
	}
	// Size is D, H, W; the grid is x (W), y (H), z (D).
	s.size = [3]int{int(p.Size[2]), int(p.Size[1]), int(p.Size[0])}
	s.normalisation = p.Normalisation
	for i := range c.Outputs {
		o := &c.Outputs[i]
		switch {
		case len(o.Classes) > 0:
			s.probs = o
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
	if s.probs == nil || s.grade == nil || s.idh == nil || s.mgmt == nil || s.risk == nil || s.embedding == nil {
		return nil, bad("outputs must include class probabilities (with classes), grade, idh, mgmt, a risk output with bands, and embedding")
	}
	if s.probs.Activation != "softmax" || len(s.probs.Classes) != 4 {
		return nil, bad("output %s must be softmax probabilities over 4 classes", s.probs.Name)
	}
	for _, cl := range s.probs.Classes {
		var v uint8
		switch cl.Label {
		case "BG":
			v = viewer.LabelBackground
		case "NCR":
			v = viewer.LabelNCR
		case "ED":
			v = viewer.LabelED
		case "ET":
			v = viewer.LabelET
		default:
			return nil, bad("class %d label %q is not BG, NCR, ED or ET", cl.Index, cl.Label)
		}
		if cl.Index < 0 || cl.Index > 3 {
			return nil, bad("class index %d out of range", cl.Index)
		}
		s.classOf[cl.Index] = v
	}
	s.regions = s.probs.Regions
	for _, h := range []*model.Output{s.grade, s.idh, s.mgmt} {
		if h.Activation != "softmax" || len(h.Labels) < 2 {
			return nil, bad("output %s must be softmax over labelled classes", h.Name)
		}
	}
	if s.risk.Activation != "sigmoid" {
		return nil, bad("output %s must be a sigmoid", s.risk.Name)
	}
	return s, nil
}

// Run runs the M1 model on a study: the UI's entry point. Cancelling ctx stops it between stages and inside
// the long ones.
func Run(ctx context.Context, rt *inference.Runtime, req Request) (*Result, error) {
	m, err := rt.LoadFamily(ctx, model.FamilyM1, req.ModelID)
	if err != nil {
		return nil, err
	}
	return Predict(ctx, m, req)
}

// Predict runs a loaded M1 model on a study.
func Predict(ctx context.Context, m *inference.Model, req Request) (*Result, error) {
	sp, err := cardSpec(m.Card)
	if err != nil {
		return nil, err
	}
	progress := func(stage string, done, total int) {
		if req.Progress != nil {
			req.Progress(stage, done, total)
		}
	}
	watch := inference.StartStopwatch()
	series, how, err := Select(req.Study, req.Series)
	if err != nil {
		return nil, err
	}
	ref := 1 // T1CE
	if req.Reference != "" {
		ref = slices.Index(viewer.BrainTumourTypes, req.Reference)
		if ref < 0 {
			return nil, fmt.Errorf("%w: reference %q is not one of T1, T1CE, T2, FLAIR", ErrMissingSequence, req.Reference)
		}
	}

	// Load.
	var vols [4]*viewer.Volume
	progress(StageLoad, 0, 4)
	for c, se := range series {
		v, err := viewer.LoadSeries(ctx, se, nil)
		if err != nil {
			return nil, fmt.Errorf("m1: %s: %w", viewer.BrainTumourTypes[c], err)
		}
		if v.Samples != 1 {
			return nil, fmt.Errorf("m1: %s series %s is not grey-scale", viewer.BrainTumourTypes[c], se.UID)
		}
		vols[c] = v
		progress(StageLoad, c+1, 4)
	}
	watch.Lap(StageLoad)

	// Preprocess.
	progress(StagePreprocess, 0, 1)
	prep, err := Prepare(ctx, vols, ref, sp.size)
	if err != nil {
		return nil, err
	}
	progress(StagePreprocess, 1, 1)
	watch.Lap(StagePreprocess)

	// Inference.
	progress(StageInference, 0, 1)
	shape := []int64{1, 4, int64(sp.size[2]), int64(sp.size[1]), int64(sp.size[0])}
	out, err := m.Run(ctx, map[string]ort.Tensor{sp.input.Name: {Shape: shape, Data: prep.Input}})
	if err != nil {
		return nil, err
	}
	progress(StageInference, 1, 1)
	watch.Lap(StageInference)

	// Postprocess.
	progress(StagePostprocess, 0, 1)
	refVol := vols[ref]
	probs := out[sp.probs.Name]
	if len(probs.Data) != 4*prep.Grid.Len() {
		return nil, fmt.Errorf("m1: output %s has %d values, want %d", sp.probs.Name, len(probs.Data), 4*prep.Grid.Len())
	}
	labels, err := MapBack(ctx, probs.Data, prep.Grid, refVol.Geometry, sp.classOf)
	if err != nil {
		return nil, err
	}
	labels.Source = m.Card.ID + " " + m.Card.Version
	res := &Result{Provenance: m.Provenance(), Labels: labels}
	res.Reference = SeriesRef{Type: viewer.BrainTumourTypes[ref], SeriesUID: series[ref].UID, Description: series[ref].Description,
		Size: refVol.Size, SpacingMM: refVol.Spacing, VoxelMM3: refVol.VoxelVolume()}
	res.Volumes, res.Regions = volumes(labels, sp.regions, sp.classOf)
	if res.Grade, err = classHead(out, sp.grade); err == nil {
		if res.IDH, err = classHead(out, sp.idh); err == nil {
			res.MGMT, err = classHead(out, sp.mgmt)
		}
	}
	if err != nil {
		return nil, err
	}
	r := out[sp.risk.Name]
	if len(r.Data) != 1 {
		return nil, fmt.Errorf("m1: output %s has %d values, want 1", sp.risk.Name, len(r.Data))
	}
	res.Risk = RiskHead{Score: round(float64(r.Data[0]), 4), Group: sp.risk.Bands.Label(float64(r.Data[0])), Cuts: sp.risk.Bands.Cuts}
	res.Embedding = append([]float32(nil), out[sp.embedding.Name].Data...)
	res.Preprocessing = PreprocessingInfo{BrainBoxMinMM: prep.Box.Min, BrainBoxMaxMM: prep.Box.Max, ModelGridSize: prep.Grid.Size,
		ModelSpacingMM: round(prep.Grid.Spacing[0], 4), ChannelMean: prep.Mean, ChannelSD: prep.SD, Normalisation: sp.normalisation}
	for c, se := range series {
		res.Preprocessing.Channels = append(res.Preprocessing.Channels, ChannelInfo{Channel: viewer.BrainTumourTypes[c], SeriesUID: se.UID,
			Chosen: how[c], SpacingMM: vols[c].Spacing, Size: vols[c].Size})
		res.Inputs = append(res.Inputs, inference.InputRef{Kind: inference.InputMRISeries, Role: string(viewer.BrainTumourTypes[c]),
			Name: se.Description, StudyUID: req.Study.UID, SeriesUID: se.UID, Note: "chosen by " + how[c]})
	}
	progress(StagePostprocess, 1, 1)
	watch.Lap(StagePostprocess)
	res.Timings = watch.Stages()
	res.CreatedAt = time.Now().UTC()
	return res, nil
}

func classHead(out map[string]ort.Tensor, o *model.Output) (ClassHead, error) {
	t := out[o.Name]
	if len(t.Data) != len(o.Labels) {
		return ClassHead{}, fmt.Errorf("m1: output %s has %d values for %d labels", o.Name, len(t.Data), len(o.Labels))
	}
	h := ClassHead{Probabilities: map[string]float64{}}
	best := -1
	for i, l := range o.Labels {
		p := float64(t.Data[i])
		if math.IsNaN(p) {
			return ClassHead{}, fmt.Errorf("m1: output %s is NaN", o.Name)
		}
		h.Probabilities[l] = round(p, 4)
		if best < 0 || p > float64(t.Data[best]) {
			best = i
		}
	}
	h.PredictedClass, h.Probability = o.Labels[best], round(float64(t.Data[best]), 4)
	return h, nil
}

// volumes counts the label map's classes and the card's regions in mL.
func volumes(m *viewer.LabelMap, regions []model.Region, classOf [4]uint8) (Volumes, []RegionVolume) {
	counts := m.Counts()
	mL := m.VoxelVolume() / 1000
	v := Volumes{NCR: float64(counts[viewer.LabelNCR]) * mL, ED: float64(counts[viewer.LabelED]) * mL, ET: float64(counts[viewer.LabelET]) * mL}
	v.WT, v.TC = v.NCR+v.ED+v.ET, v.NCR+v.ET
	v = Volumes{NCR: round(v.NCR, 3), ED: round(v.ED, 3), ET: round(v.ET, 3), WT: round(v.WT, 3), TC: round(v.TC, 3)}
	var rs []RegionVolume
	for _, r := range regions {
		n := 0
		for _, k := range r.Classes {
			if k >= 0 && k < 4 {
				n += counts[classOf[k]]
			}
		}
		rs = append(rs, RegionVolume{Name: r.Name, Voxels: n, ML: round(float64(n)*mL, 3)})
	}
	return v, rs
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// MapBack turns class probabilities on the model grid (4 channels × grid voxels, channel-major) into a label
// map on grid ref: at each reference voxel centre, the most probable class, with probabilities interpolated
// trilinearly where the eight surrounding model voxels disagree (nearest is exact where they agree). Points
// outside the model grid are background. classOf maps the network's class index to the label value.
func MapBack(ctx context.Context, probs []float32, model, ref viewer.Geometry, classOf [4]uint8) (*viewer.LabelMap, error) {
	n := model.Len()
	if len(probs) != 4*n {
		return nil, fmt.Errorf("m1: %d probabilities for %v", len(probs), model.Size)
	}
	arg := make([]uint8, n)
	for i := range arg {
		best, bp := 0, probs[i]
		for c := 1; c < 4; c++ {
			if p := probs[c*n+i]; p > bp {
				best, bp = c, p
			}
		}
		arg[i] = uint8(best)
	}
	out := viewer.NewLabelMap(ref)
	o, st := affineTo(model, ref)
	mx, my, mz := model.Size[0], model.Size[1], model.Size[2]
	err := parallelSlices(ctx, ref.Size[2], func(k int) {
		for j := 0; j < ref.Size[1]; j++ {
			p := o.Add(st[1].Scale(float64(j))).Add(st[2].Scale(float64(k)))
			row := out.Data[ref.Index(0, j, k):]
			for i := 0; i < ref.Size[0]; i++ {
				x, y, z := p[0]+float64(i)*st[0][0], p[1]+float64(i)*st[0][1], p[2]+float64(i)*st[0][2]
				if x < -0.5 || y < -0.5 || z < -0.5 || x > float64(mx)-0.5 || y > float64(my)-0.5 || z > float64(mz)-0.5 {
					continue
				}
				x, y, z = min(max(x, 0), float64(mx-1)), min(max(y, 0), float64(my-1)), min(max(z, 0), float64(mz-1))
				i0, j0, k0 := int(x), int(y), int(z)
				i1, j1, k1 := min(i0+1, mx-1), min(j0+1, my-1), min(k0+1, mz-1)
				idx := [8]int{
					i0 + mx*(j0+my*k0), i1 + mx*(j0+my*k0), i0 + mx*(j1+my*k0), i1 + mx*(j1+my*k0),
					i0 + mx*(j0+my*k1), i1 + mx*(j0+my*k1), i0 + mx*(j1+my*k1), i1 + mx*(j1+my*k1),
				}
				c0 := arg[idx[0]]
				same := true
				for _, q := range idx[1:] {
					if arg[q] != c0 {
						same = false
						break
					}
				}
				if same {
					row[i] = classOf[c0]
					continue
				}
				fx, fy, fz := float32(x-float64(i0)), float32(y-float64(j0)), float32(z-float64(k0))
				w := [8]float32{
					(1 - fx) * (1 - fy) * (1 - fz), fx * (1 - fy) * (1 - fz), (1 - fx) * fy * (1 - fz), fx * fy * (1 - fz),
					(1 - fx) * (1 - fy) * fz, fx * (1 - fy) * fz, (1 - fx) * fy * fz, fx * fy * fz,
				}
				best, bp := 0, float32(-1)
				for c := 0; c < 4; c++ {
					var s float32
					ch := probs[c*n:]
					for t, q := range idx {
						s += w[t] * ch[q]
					}
					if s > bp {
						best, bp = c, s
					}
				}
				row[i] = classOf[best]
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
