// Package m1 runs M1 models: four MRI sequences (T1, T1CE, T2, FLAIR) → a tumour label map on the reference
// series' own grid (0 background, 1 NCR, 2 ED, 3 ET), volumes in mL from the real voxel size, grade, IDH, MGMT
// and survival-risk heads with probabilities, and the 768-value embedding MM consumes.
//
// The pipeline: pick the sequences (the viewer's classifier, or a manual choice); load them; find the brain's
// bounding box on a 1 mm grid aligned with the patient axes; resample every sequence, in the card's channel
// order, onto the model grid in patient coordinates (so different orientations and spacings are allowed): the
// box at the card's spacing, covered by sliding windows (Windows), or — for older cards — the box fitted into the
// card's one input size; normalise each channel as the card says; run the network window by window (batches,
// test-time flips, constant or Gaussian blending), then the heads once on the whole box when the card has them;
// map the blended output back onto the reference series' grid (trilinear where neighbours disagree) and decode
// it — the most probable softmax class whatever its numbering, or the nested sigmoid regions TC, WT and ET with
// their thresholds; count volumes with the reference grid's voxel volume.
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

// Result is an M1 output with its provenance (banner included). The heads and the embedding are absent for a
// model that only segments.
type Result struct {
	inference.Provenance
	// Labels is the segmentation on the reference series' grid; Labels.Source names the model. It is not part
	// of the JSON (the label map goes to a DICOM SEG and a NIfTI file).
	Labels        *viewer.LabelMap  `json:"-"`
	Reference     SeriesRef         `json:"reference_series"`
	Volumes       Volumes           `json:"volumes_ml"`
	Regions       []RegionVolume    `json:"regions"`
	Grade         *ClassHead        `json:"grade,omitempty"`
	IDH           *ClassHead        `json:"idh,omitempty"`
	MGMT          *ClassHead        `json:"mgmt,omitempty"`
	Risk          *RiskHead         `json:"survival_risk,omitempty"`
	Embedding     []float32         `json:"embedding,omitempty"`
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
	BrainBoxMinMM  viewer.Vec3     `json:"brain_box_min_mm"`
	BrainBoxMaxMM  viewer.Vec3     `json:"brain_box_max_mm"`
	ModelGridSize  [3]int          `json:"model_grid_size"`
	ModelOriginMM  viewer.Vec3     `json:"model_grid_origin_mm"` // centre of its first voxel (LPS)
	ModelSpacingMM viewer.Vec3     `json:"model_spacing_mm"`
	Windows        int             `json:"windows"`     // windows the network ran on (1 for a fitted input)
	WindowSize     [3]int          `json:"window_size"` // x, y, z voxels
	Overlap        float64         `json:"overlap,omitempty"`
	Blend          string          `json:"blend,omitempty"`
	TestTimeFlips  []string        `json:"test_time_flips,omitempty"`
	Normalisation  string          `json:"normalisation"`
	ChannelStats   [4]ChannelStats `json:"channel_stats"` // in the input's channel order
	Channels       []ChannelInfo   `json:"channels"`      // in the input's channel order
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
			if se := st.SeriesByUID(uid); se != nil {
				out[c], how[c] = se, "manual"
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
		if ref = slices.Index(viewer.BrainTumourTypes, req.Reference); ref < 0 {
			return nil, fmt.Errorf("%w: reference %q is not one of T1, T1CE, T2, FLAIR", ErrMissingSequence, req.Reference)
		}
	}
	vols, err := loadSeries(ctx, series, progress)
	if err != nil {
		return nil, err
	}
	watch.Lap(StageLoad)

	// Preprocess, in the card's channel order.
	progress(StagePreprocess, 0, 1)
	var in [4]*viewer.Volume
	for c, k := range sp.channels {
		in[c] = vols[k]
	}
	prep, err := Prepare(ctx, in, slices.Index(sp.channels[:], ref), sp.layout(), normalisationOf(sp.prep))
	if err != nil {
		return nil, err
	}
	progress(StagePreprocess, 1, 1)
	watch.Lap(StagePreprocess)

	// Inference: the windows, then the heads.
	w := sp.windows(prep.Grid.Size)
	net, err := runNetwork(ctx, m, sp, w, prep, func(done, total int) { progress(StageInference, done, total) })
	if err != nil {
		return nil, err
	}
	watch.Lap(StageInference)

	// Postprocess.
	progress(StagePostprocess, 0, 1)
	labels, err := MapBack(ctx, net.seg, sp.decode.channels, prep.Grid, vols[ref].Geometry, sp.decode.label)
	if err != nil {
		return nil, err
	}
	labels.Source = m.Card.ID + " " + m.Card.Version
	res := &Result{Provenance: m.Provenance(), Labels: labels}
	res.Reference = SeriesRef{Type: viewer.BrainTumourTypes[ref], SeriesUID: series[ref].UID, Description: series[ref].Description,
		Size: vols[ref].Size, SpacingMM: vols[ref].Spacing, VoxelMM3: vols[ref].VoxelVolume()}
	res.Volumes, res.Regions = volumes(labels, sp.regions)
	if sp.hasHeads() {
		if err := res.readHeads(net.heads, sp); err != nil {
			return nil, err
		}
	}
	res.Preprocessing = preprocessingInfo(sp, w, prep, series, how, vols)
	for c, se := range series {
		res.Inputs = append(res.Inputs, inference.InputRef{Kind: inference.InputMRISeries, Role: string(viewer.BrainTumourTypes[c]),
			Name: se.Description, StudyUID: req.Study.UID, SeriesUID: se.UID, Note: "chosen by " + how[c]})
	}
	progress(StagePostprocess, 1, 1)
	watch.Lap(StagePostprocess)
	res.Timings = watch.Stages()
	res.CreatedAt = time.Now().UTC()
	return res, nil
}

// loadSeries reads the four series (DICOM decode), in viewer.BrainTumourTypes order.
func loadSeries(ctx context.Context, series [4]*viewer.Series, progress Progress) ([4]*viewer.Volume, error) {
	var vols [4]*viewer.Volume
	progress(StageLoad, 0, 4)
	for c, se := range series {
		v, err := viewer.LoadSeries(ctx, se, nil)
		if err != nil {
			return vols, fmt.Errorf("m1: %s: %w", viewer.BrainTumourTypes[c], err)
		}
		if v.Samples != 1 {
			return vols, fmt.Errorf("m1: %s series %s is not grey-scale", viewer.BrainTumourTypes[c], se.UID)
		}
		vols[c] = v
		progress(StageLoad, c+1, 4)
	}
	return vols, nil
}

// preprocessingInfo says what the network saw.
func preprocessingInfo(sp *spec, w Windows, prep *Prepared, series [4]*viewer.Series, how [4]string, vols [4]*viewer.Volume) PreprocessingInfo {
	g := prep.Grid
	info := PreprocessingInfo{BrainBoxMinMM: prep.Box.Min, BrainBoxMaxMM: prep.Box.Max, ModelGridSize: g.Size, ModelOriginMM: g.Origin,
		ModelSpacingMM: g.Spacing, Windows: w.Count(g.Size), WindowSize: w.ROI, Overlap: w.Overlap, Blend: w.Blend,
		TestTimeFlips: sp.prep.TestTimeFlips, Normalisation: sp.prep.Normalisation, ChannelStats: prep.Stats}
	for _, k := range sp.channels {
		info.Channels = append(info.Channels, ChannelInfo{Channel: viewer.BrainTumourTypes[k], SeriesUID: series[k].UID,
			Chosen: how[k], SpacingMM: vols[k].Spacing, Size: vols[k].Size})
	}
	return info
}

// layout is how the card makes the model grid.
func (s *spec) layout() Layout {
	if s.window {
		return Layout{Size: s.roi, Spacing: s.spacing}
	}
	return Layout{Size: s.roi}
}

// windows is how the card covers a model grid of size: its sliding windows, or one window for a fitted input.
func (s *spec) windows(size [3]int) Windows {
	if !s.window {
		return Windows{ROI: size, Blend: model.BlendConstant, Flips: s.flips}
	}
	w := s.prep.Window
	return Windows{ROI: s.roi, Overlap: w.Overlap, Blend: w.Blend, SigmaScale: w.SigmaScale, Batch: w.Batch, Flips: s.flips}
}

// networkOutput is what the network runs gave.
type networkOutput struct {
	seg   []float32             // the blended segmentation output on the model grid, channel-major
	heads map[string]ort.Tensor // the heads' outputs (nil without heads)
}

// runNetwork runs the window network over the model grid and then, when the card has them, the heads.
func runNetwork(ctx context.Context, m *inference.Model, sp *spec, w Windows, prep *Prepared, progress func(done, total int)) (*networkOutput, error) {
	outC := sp.decode.channels
	idle := map[string]ort.Tensor{}
	if sp.headsImage != nil {
		idle[sp.headsImage.Name] = zeros(sp.headsImage.IdleShape)
		idle[sp.headsProbs.Name] = zeros(sp.headsProbs.IdleShape)
	}
	res := &networkOutput{}
	r := w.ROI
	net := func(ctx context.Context, x []float32, n int) ([]float32, error) {
		in := map[string]ort.Tensor{sp.input.Name: {Shape: []int64{int64(n), 4, int64(r[2]), int64(r[1]), int64(r[0])}, Data: x}}
		for k, v := range idle {
			in[k] = v
		}
		out, err := m.Run(ctx, in)
		if err != nil {
			return nil, err
		}
		if sp.headsInGraph && res.heads == nil {
			res.heads = out // the plain run, the first of each batch
		}
		t := out[sp.seg.Name]
		if want := []int64{int64(n), int64(outC), int64(r[2]), int64(r[1]), int64(r[0])}; !slices.Equal(t.Shape, want) {
			return nil, fmt.Errorf("m1: output %s has shape %v, want %v", sp.seg.Name, t.Shape, want)
		}
		return t.Data, nil
	}
	var err error
	if res.seg, err = w.Run(ctx, prep.Input, prep.Grid.Size, 4, outC, net, progress); err != nil {
		return nil, err
	}
	if sp.headsImage != nil {
		g := prep.Grid.Size
		in := map[string]ort.Tensor{
			sp.input.Name:      zeros(sp.input.IdleShape),
			sp.headsImage.Name: {Shape: []int64{1, 4, int64(g[2]), int64(g[1]), int64(g[0])}, Data: prep.Input},
			sp.headsProbs.Name: {Shape: []int64{1, int64(outC), int64(g[2]), int64(g[1]), int64(g[0])}, Data: res.seg},
		}
		if res.heads, err = m.Run(ctx, in); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func zeros(shape []int64) ort.Tensor {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return ort.Tensor{Shape: shape, Data: make([]float32, n)}
}

// readHeads fills the grade, IDH, MGMT, risk and embedding from the heads' outputs.
func (res *Result) readHeads(out map[string]ort.Tensor, sp *spec) error {
	var heads [3]ClassHead
	for i, o := range []*model.Output{sp.grade, sp.idh, sp.mgmt} {
		h, err := classHead(out, o)
		if err != nil {
			return err
		}
		heads[i] = h
	}
	res.Grade, res.IDH, res.MGMT = &heads[0], &heads[1], &heads[2]
	r := out[sp.risk.Name]
	if len(r.Data) != 1 {
		return fmt.Errorf("m1: output %s has %d values, want 1", sp.risk.Name, len(r.Data))
	}
	res.Risk = &RiskHead{Score: round(float64(r.Data[0]), 4), Group: sp.risk.Bands.Label(float64(r.Data[0])), Cuts: sp.risk.Bands.Cuts}
	res.Embedding = append([]float32(nil), out[sp.embedding.Name].Data...)
	return nil
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

// volumes counts the label map's classes, and the regions (label-value sets) in mL.
func volumes(m *viewer.LabelMap, regions []model.Region) (Volumes, []RegionVolume) {
	counts := m.Counts()
	mL := m.VoxelVolume() / 1000
	v := Volumes{NCR: float64(counts[viewer.LabelNCR]) * mL, ED: float64(counts[viewer.LabelED]) * mL, ET: float64(counts[viewer.LabelET]) * mL}
	v.WT, v.TC = v.NCR+v.ED+v.ET, v.NCR+v.ET
	v = Volumes{NCR: round(v.NCR, 3), ED: round(v.ED, 3), ET: round(v.ET, 3), WT: round(v.WT, 3), TC: round(v.TC, 3)}
	var rs []RegionVolume
	for _, r := range regions {
		n := 0
		for _, l := range r.Classes {
			if l > 0 && l < len(counts) {
				n += counts[l]
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

// MapBack turns the segmentation output on the model grid (channels × grid voxels, channel-major) into a label
// map on grid ref: at each reference voxel centre, decode of the output there, interpolated trilinearly where
// the eight surrounding model voxels decode differently (nearest is exact where they agree). Points outside the
// model grid are background. decode reads one voxel's channels, v[c*stride] being channel c; it must be safe
// for concurrent use.
func MapBack(ctx context.Context, out []float32, channels int, model, ref viewer.Geometry, decode func(v []float32, stride int) uint8) (*viewer.LabelMap, error) {
	n := model.Len()
	if len(out) != channels*n {
		return nil, fmt.Errorf("m1: %d output values for %d channels of %v", len(out), channels, model.Size)
	}
	mx, my, mz := model.Size[0], model.Size[1], model.Size[2]
	lab := make([]uint8, n)
	if err := parallelSlices(ctx, mz, func(k int) {
		for i := k * mx * my; i < (k+1)*mx*my; i++ {
			lab[i] = decode(out[i:], n)
		}
	}); err != nil {
		return nil, err
	}
	res := viewer.NewLabelMap(ref)
	o, st := affineTo(model, ref)
	err := parallelSlices(ctx, ref.Size[2], func(k int) {
		v := make([]float32, channels)
		for j := 0; j < ref.Size[1]; j++ {
			p := o.Add(st[1].Scale(float64(j))).Add(st[2].Scale(float64(k)))
			row := res.Data[ref.Index(0, j, k):]
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
				l0 := lab[idx[0]]
				same := true
				for _, q := range idx[1:] {
					if lab[q] != l0 {
						same = false
						break
					}
				}
				if same {
					row[i] = l0
					continue
				}
				fx, fy, fz := float32(x-float64(i0)), float32(y-float64(j0)), float32(z-float64(k0))
				w := [8]float32{
					(1 - fx) * (1 - fy) * (1 - fz), fx * (1 - fy) * (1 - fz), (1 - fx) * fy * (1 - fz), fx * fy * (1 - fz),
					(1 - fx) * (1 - fy) * fz, fx * (1 - fy) * fz, (1 - fx) * fy * fz, fx * fy * fz,
				}
				for c := range v {
					var s float32
					ch := out[c*n:]
					for t, q := range idx {
						s += w[t] * ch[q]
					}
					v[c] = s
				}
				row[i] = decode(v, 1)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
