package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/neuronova/neuronova/viewer"
)

// Rendered is a phantom sampled at the voxel centres of a grid.
type Rendered struct {
	Volumes [4]*viewer.Volume // T1, T1CE, T2, FLAIR (the order of Sequences)
	Labels  *viewer.LabelMap
}

// Render samples the phantom on its Params.Grid.
func (ph *Phantom) Render() *Rendered {
	r, _ := ph.RenderOn(ph.p.Grid) // New validated the grid
	return r
}

// RenderOn samples the phantom on grid g: the noiseless signal times the bias field, with Rician noise,
// rounded to whole numbers as a scanner stores them, and zero outside the brain (skull-stripped). Labels
// are the ground truth at each voxel centre. Slices are rendered in parallel; the result does not depend
// on the number of workers.
func (ph *Phantom) RenderOn(g viewer.Geometry) (*Rendered, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%w: grid: %v", ErrParams, err)
	}
	r := &Rendered{Labels: viewer.NewLabelMap(g)}
	r.Labels.Source = "ground truth (synthetic phantom)"
	for s := range r.Volumes {
		r.Volumes[s] = viewer.NewVolume(g)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), g.Size[2]) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= g.Size[2] {
					return
				}
				ph.renderSlice(r, g, k)
			}
		})
	}
	wg.Wait()
	for _, v := range r.Volumes {
		wg.Go(func() { v.Windows = []viewer.Window{brainWindow(v)} })
	}
	wg.Wait()
	return r, nil
}

// brainWindow is AutoWindow's window (1st to 99.5th percentile of the voxels above the zero background)
// from every 8th voxel, which is cheaper than AutoWindow on a volume known to have a zero background.
func brainWindow(v *viewer.Volume) viewer.Window {
	var sample []float32
	for i := 0; i < len(v.Data); i += 8 {
		if v.Data[i] > 0 {
			sample = append(sample, v.Data[i])
		}
	}
	if len(sample) == 0 {
		return viewer.Window{Center: 0.5, Width: 1, Name: "Brain"}
	}
	slices.Sort(sample)
	at := func(p float64) float64 { return float64(sample[int(math.Round(p*float64(len(sample)-1)))]) }
	lo, hi := at(0.01), at(0.995)
	w := max(hi-lo, 1)
	return viewer.Window{Center: lo + w/2, Width: w, Name: "Brain"}
}

// renderSlice renders slice k. Its noise comes from a generator seeded by (Seed, k), drawn in voxel order.
func (ph *Phantom) renderSlice(r *Rendered, g viewer.Geometry, k int) {
	rng := rand.New(rand.NewPCG(ph.p.Seed^0x9e3779b97f4a7c15, uint64(k)))
	di := g.Direction[0].Scale(g.Spacing[0])
	var sigma [4]float64
	for s := range sigma {
		sigma[s] = ph.p.NoiseSigma * intensity[wm][s]
	}
	rowEnd := di.Scale(float64(g.Size[0] - 1))
	var step [nWaves][2]float64 // sin and cos of each wave's phase step along a row
	for w, wv := range ph.waves {
		step[w][0], step[w][1] = math.Sincos(wv.k.Dot(di))
	}
	for j := 0; j < g.Size[1]; j++ {
		p := g.ToPatient(viewer.Vec3{0, float64(j), float64(k)})
		idx := g.Index(0, j, k)
		// Structures whose boxes meet the row's box, and the waves along the row by the angle-addition
		// recurrence (sin and cos of each wave's phase, rotated by its step at every voxel).
		var pr probe
		lo, hi := p, p.Add(rowEnd)
		for a := 0; a < 3; a++ {
			lo[a], hi[a] = min(lo[a], hi[a]), max(lo[a], hi[a])
		}
		for n := range ph.structures {
			st := &ph.structures[n]
			if lo[0] <= st.hi[0] && hi[0] >= st.lo[0] && lo[1] <= st.hi[1] && hi[1] >= st.lo[1] && lo[2] <= st.hi[2] && hi[2] >= st.lo[2] {
				pr.active |= 1 << n
			}
		}
		var sc [nWaves][2]float64
		for w, wv := range ph.waves {
			sc[w][0], sc[w][1] = math.Sincos(wv.k.Dot(p) + wv.phase)
		}
		for i := 0; i < g.Size[0]; i, p, idx = i+1, p.Add(di), idx+1 {
			for w := range sc {
				pr.waves[w] = sc[w][0]
				sc[w][0], sc[w][1] = sc[w][0]*step[w][1]+sc[w][1]*step[w][0], sc[w][1]*step[w][1]-sc[w][0]*step[w][0]
			}
			v, brain, label, inside := ph.evaluate(p, &pr)
			if !inside {
				continue
			}
			r.Labels.Data[idx] = label
			if brain <= 0 {
				continue
			}
			bias := ph.biases(p)
			for s := range v {
				x := v[s] * bias[s]
				n1, n2 := sigma[s]*rng.NormFloat64(), sigma[s]*rng.NormFloat64()
				r.Volumes[s].Data[idx] = float32(math.Round(math.Sqrt((x+n1)*(x+n1) + n2*n2)))
			}
		}
	}
}

// LabelsOn rasterises only the ground truth on grid g (label at each voxel centre), visiting just the
// voxels near the tumour: far cheaper than RenderOn, for volume checks and training targets.
func (ph *Phantom) LabelsOn(g viewer.Geometry) (*viewer.LabelMap, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%w: grid: %v", ErrParams, err)
	}
	m := viewer.NewLabelMap(g)
	m.Source = "ground truth (synthetic phantom)"
	// Voxel-index box of the tumour's bounding box (oedema reach plus a voxel).
	t := ph.p.Tumour
	lo := [3]int{g.Size[0], g.Size[1], g.Size[2]}
	hi := [3]int{-1, -1, -1}
	for c := 0; c < 8; c++ {
		var corner viewer.Vec3
		for a := 0; a < 3; a++ {
			r := t.Radii[a] * ph.tumourReach
			if c>>a&1 == 1 {
				r = -r
			}
			corner[a] = t.Centre[a] + r
		}
		v := g.ToVoxel(corner)
		for a := 0; a < 3; a++ {
			lo[a] = min(lo[a], int(math.Floor(v[a]))-1)
			hi[a] = max(hi[a], int(math.Ceil(v[a]))+1)
		}
	}
	for a := 0; a < 3; a++ {
		lo[a], hi[a] = max(lo[a], 0), min(hi[a], g.Size[a]-1)
	}
	for k := lo[2]; k <= hi[2]; k++ {
		for j := lo[1]; j <= hi[1]; j++ {
			for i := lo[0]; i <= hi[0]; i++ {
				m.Data[g.Index(i, j, k)] = ph.Label(g.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)}))
			}
		}
	}
	return m, nil
}
