package m1

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/neuronova/neuronova/viewer"
)

// ErrNoBrain reports a reference volume in which no voxel stands out from the background.
var ErrNoBrain = errors.New("m1: no brain found in the reference series (every voxel is background)")

// BrainBox is the brain's bounding box on the 1 mm working grid: an axis-aligned box in patient coordinates
// (LPS, mm) whose faces lie on whole millimetres of the grid, margin included.
type BrainBox struct {
	Min, Max viewer.Vec3
}

// Extent is the box's size along each patient axis in mm.
func (b BrainBox) Extent() viewer.Vec3 { return b.Max.Sub(b.Min) }

// Centre is the box's centre.
func (b BrainBox) Centre() viewer.Vec3 { return b.Min.Add(b.Max).Scale(0.5) }

// BoxMarginMM is added on every side of the brain's bounding box.
const BoxMarginMM = 5

// FindBrainBox returns the bounding box, on a 1 mm grid aligned with the patient axes (LPS) through the
// reference volume's first voxel, of the voxels brighter than a tenth of the mean of the non-zero voxels (the
// seed's foreground rule, robust to skull-stripped and full-head images), expanded by BoxMarginMM.
func FindBrainBox(v *viewer.Volume) (BrainBox, error) {
	if err := v.Check(); err != nil {
		return BrainBox{}, err
	}
	var sum float64
	var n int
	for i := 0; i < len(v.Data); i += v.Samples {
		if x := v.Data[i]; x > 0 {
			sum += float64(x)
			n++
		}
	}
	if n == 0 {
		return BrainBox{}, ErrNoBrain
	}
	thr := float32(0.1 * sum / float64(n))
	lo := [3]int{math.MaxInt, math.MaxInt, math.MaxInt}
	hi := [3]int{-1, -1, -1}
	nx, ny := v.Size[0], v.Size[1]
	for k := 0; k < v.Size[2]; k++ {
		for j := 0; j < ny; j++ {
			row := v.Data[(nx*(j+ny*k))*v.Samples:]
			first, last := -1, -1
			for i := 0; i < nx; i++ {
				if row[i*v.Samples] > thr {
					if first < 0 {
						first = i
					}
					last = i
				}
			}
			if first < 0 {
				continue
			}
			lo[0], hi[0] = min(lo[0], first), max(hi[0], last)
			lo[1], hi[1] = min(lo[1], j), max(hi[1], j)
			lo[2], hi[2] = min(lo[2], k), max(hi[2], k)
		}
	}
	if hi[0] < 0 {
		return BrainBox{}, ErrNoBrain
	}
	// The corners of the voxel box (voxel edges, half a voxel beyond the centres) in patient coordinates.
	box := BrainBox{Min: viewer.Vec3{math.Inf(1), math.Inf(1), math.Inf(1)}, Max: viewer.Vec3{math.Inf(-1), math.Inf(-1), math.Inf(-1)}}
	for c := 0; c < 8; c++ {
		var idx viewer.Vec3
		for a := 0; a < 3; a++ {
			if c&(1<<a) == 0 {
				idx[a] = float64(lo[a]) - 0.5
			} else {
				idx[a] = float64(hi[a]) + 0.5
			}
		}
		p := v.ToPatient(idx)
		for a := 0; a < 3; a++ {
			box.Min[a], box.Max[a] = min(box.Min[a], p[a]), max(box.Max[a], p[a])
		}
	}
	// Snap outwards to the 1 mm working grid through the volume's origin, then add the margin.
	for a := 0; a < 3; a++ {
		o := v.Origin[a]
		box.Min[a] = o + math.Floor(box.Min[a]-o) - BoxMarginMM
		box.Max[a] = o + math.Ceil(box.Max[a]-o) + BoxMarginMM
	}
	return box, nil
}

// ModelGrid is the grid the network sees: size³ voxels aligned with the patient axes (LPS), centred on the
// brain box. Its spacing is 1 mm when the box fits (the box is then padded), otherwise the smallest isotropic
// spacing that makes the box fit (the 1 mm crop resized with its aspect ratio kept, then padded).
func ModelGrid(box BrainBox, size [3]int) viewer.Geometry {
	ext := box.Extent()
	s := 1.0
	for a := 0; a < 3; a++ {
		s = max(s, ext[a]/float64(size[a]))
	}
	c := box.Centre()
	g := viewer.Geometry{Size: size, Spacing: viewer.Vec3{s, s, s}, Direction: viewer.IdentityDirection}
	for a := 0; a < 3; a++ {
		g.Origin[a] = c[a] - s*float64(size[a]-1)/2
	}
	return g
}

// affineTo returns, for grid dst, the source voxel index of dst's voxel (0,0,0) and the steps along each of
// dst's axes, in src's voxel index space.
func affineTo(src, dst viewer.Geometry) (origin viewer.Vec3, step [3]viewer.Vec3) {
	origin = src.ToVoxel(dst.ToPatient(viewer.Vec3{}))
	for a := 0; a < 3; a++ {
		var e viewer.Vec3
		e[a] = 1
		step[a] = src.ToVoxel(dst.ToPatient(e)).Sub(origin)
	}
	return origin, step
}

// parallelSlices calls f(k) for every k in [0, n) on GOMAXPROCS goroutines, stopping early when ctx ends.
func parallelSlices(ctx context.Context, n int, f func(k int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				f(k)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// Resample samples src (grey-scale) at the voxel centres of grid g by trilinear interpolation; points outside
// src are 0. Different orientations and spacings are allowed: positions are matched in patient coordinates.
func Resample(ctx context.Context, src *viewer.Volume, g viewer.Geometry, dst []float32) error {
	if err := src.Check(); err != nil {
		return err
	}
	if len(dst) != g.Len() {
		return fmt.Errorf("m1: resample into %d values for %v", len(dst), g.Size)
	}
	o, st := affineTo(src.Geometry, g)
	sx, sy, sz := src.Size[0], src.Size[1], src.Size[2]
	data, ns := src.Data, src.Samples
	return parallelSlices(ctx, g.Size[2], func(k int) {
		for j := 0; j < g.Size[1]; j++ {
			p := o.Add(st[1].Scale(float64(j))).Add(st[2].Scale(float64(k)))
			out := dst[g.Index(0, j, k):]
			for i := 0; i < g.Size[0]; i++ {
				x, y, z := p[0]+float64(i)*st[0][0], p[1]+float64(i)*st[0][1], p[2]+float64(i)*st[0][2]
				out[i] = 0
				if x < -0.5 || y < -0.5 || z < -0.5 || x > float64(sx)-0.5 || y > float64(sy)-0.5 || z > float64(sz)-0.5 {
					continue
				}
				// Clamp to the edge voxels within half a voxel of the border.
				x, y, z = min(max(x, 0), float64(sx-1)), min(max(y, 0), float64(sy-1)), min(max(z, 0), float64(sz-1))
				i0, j0, k0 := int(x), int(y), int(z)
				base := i0 + sx*(j0+sy*k0)
				// Neighbour offsets; 0 on an axis whose lower voxel is the last one.
				di, dj, dk := ns, sx*ns, sx*sy*ns
				if i0 == sx-1 {
					di = 0
				}
				if j0 == sy-1 {
					dj = 0
				}
				if k0 == sz-1 {
					dk = 0
				}
				b := base * ns
				fx, fy, fz := float32(x-float64(i0)), float32(y-float64(j0)), float32(z-float64(k0))
				v000, v100, v010, v110 := data[b], data[b+di], data[b+dj], data[b+di+dj]
				v001, v101, v011, v111 := data[b+dk], data[b+di+dk], data[b+dj+dk], data[b+di+dj+dk]
				c00 := v000 + fx*(v100-v000)
				c10 := v010 + fx*(v110-v010)
				c01 := v001 + fx*(v101-v001)
				c11 := v011 + fx*(v111-v011)
				c0 := c00 + fy*(c10-c00)
				c1 := c01 + fy*(c11-c01)
				out[i] = c0 + fz*(c1-c0)
			}
		}
	})
}

// Layout says how the model grid is made from the brain box: fitted into Size (one input, resized), or at
// Spacing over the whole box (sliding windows, never resized) and at least Size.
type Layout struct {
	Size    [3]int      // voxels along x, y, z
	Spacing viewer.Vec3 // zero: fit the box into Size
}

// Grid is the model grid of a brain box.
func (l Layout) Grid(box BrainBox) viewer.Geometry {
	if l.Spacing == (viewer.Vec3{}) {
		return ModelGrid(box, l.Size)
	}
	return NativeGrid(box, l.Spacing, l.Size)
}

// NativeGrid is the grid that covers the brain box at spacing, aligned with the patient axes, its first voxel
// centre on the box's corner (so that at 1 mm its voxels are the working grid's, the reference series' own when
// that is a 1 mm axial grid), with at least minSize voxels per axis: a smaller box is padded evenly, as MONAI pads
// an image smaller than its window.
func NativeGrid(box BrainBox, spacing viewer.Vec3, minSize [3]int) viewer.Geometry {
	ext := box.Extent()
	g := viewer.Geometry{Spacing: spacing, Direction: viewer.IdentityDirection}
	for a := 0; a < 3; a++ {
		n := int(math.Ceil(ext[a]/spacing[a]-1e-9)) + 1
		g.Size[a] = max(minSize[a], n)
		g.Origin[a] = box.Min[a] - spacing[a]*float64((g.Size[a]-n)/2)
	}
	return g
}

// Prepared is the network input made from the four sequences.
type Prepared struct {
	Box   BrainBox        // the brain's bounding box on the 1 mm grid
	Grid  viewer.Geometry // the model grid (patient axes)
	Input []float32       // 4 channels × Grid voxels, channel-major in the card's channel order (NCDHW, D = z)
	Stats [4]ChannelStats // what each channel was normalised with
}

// Prepare resamples the four volumes onto the model grid of the reference volume's brain box and normalises each
// channel. vols[c] is input channel c. The 1 mm working grid, the crop and any resize are composed into one
// trilinear interpolation from each source series, so every voxel is interpolated once.
func Prepare(ctx context.Context, vols [4]*viewer.Volume, ref int, layout Layout, norm Normalisation) (*Prepared, error) {
	if ref < 0 || ref >= len(vols) || vols[ref] == nil {
		return nil, fmt.Errorf("m1: reference channel %d out of range", ref)
	}
	box, err := FindBrainBox(vols[ref])
	if err != nil {
		return nil, err
	}
	p := &Prepared{Box: box, Grid: layout.Grid(box)}
	n := p.Grid.Len()
	p.Input = make([]float32, 4*n)
	for c, v := range vols {
		if v == nil {
			return nil, fmt.Errorf("m1: channel %d has no volume", c)
		}
		ch := p.Input[c*n : (c+1)*n]
		if err := Resample(ctx, v, p.Grid, ch); err != nil {
			return nil, err
		}
		if p.Stats[c], err = norm.Apply(ch, c); err != nil {
			return nil, err
		}
	}
	return p, nil
}
