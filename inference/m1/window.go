package m1

import (
	"context"
	"fmt"
	"math"

	"github.com/neuronova/neuronova/inference/model"
)

// Windows is sliding-window inference over a grid, as MONAI's sliding_window_inference does it: windows of ROI
// voxels start every ROI·(1 − Overlap) voxels along each axis, the last one flush with the grid's end; each
// window's output is weighted by an importance map (constant, or a Gaussian centred on voxel ROI/2 with SD
// SigmaScale·ROI, scaled to a maximum of 1 and clamped at 1e-3) and the weighted sum is divided by the summed
// weights. Test-time flips run each batch mirrored too and average the outputs, mirrored back.
type Windows struct {
	ROI        [3]int // x, y, z voxels
	Overlap    float64
	Blend      string  // model.BlendConstant or model.BlendGaussian
	SigmaScale float64 // 0 = 0.125
	Batch      int     // windows per network run; 0 = 1
	Flips      [][3]bool
}

// Net runs the network on a batch: in holds n windows (n × inChannels × ROI, x fastest) and the result n × out
// channels × ROI.
type Net func(ctx context.Context, in []float32, n int) ([]float32, error)

// Starts are the first voxels of the windows along one axis of n voxels (MONAI's dense_patch_slices).
func Starts(n, roi int, overlap float64) []int {
	if roi >= n {
		return []int{0}
	}
	step := max(1, int(float64(roi)*(1-overlap)))
	var out []int
	for i := 0; ; i++ {
		s := i * step
		if s+roi >= n {
			return append(out, n-roi)
		}
		out = append(out, s)
	}
}

// Importance is the weight map of one window, x fastest.
func (w Windows) Importance() []float32 {
	r := w.ROI
	out := make([]float32, r[0]*r[1]*r[2])
	if w.Blend != model.BlendGaussian {
		for i := range out {
			out[i] = 1
		}
		return out
	}
	scale := w.SigmaScale
	if scale == 0 {
		scale = 0.125
	}
	var g [3][]float64
	for a := 0; a < 3; a++ {
		sd := scale * float64(r[a])
		g[a] = make([]float64, r[a])
		for i := range g[a] {
			d := float64(i - r[a]/2)
			g[a][i] = math.Exp(-d * d / (2 * sd * sd))
		}
	}
	for z := 0; z < r[2]; z++ {
		for y := 0; y < r[1]; y++ {
			row := out[r[0]*(y+r[1]*z):]
			for x := 0; x < r[0]; x++ {
				row[x] = float32(max(g[0][x]*g[1][y]*g[2][z], 1e-3))
			}
		}
	}
	return out
}

// Count is the number of windows over a grid of size voxels.
func (w Windows) Count(size [3]int) int { return len(w.corners(size)) }

// corners are the first voxels of every window over a grid of size, x fastest.
func (w Windows) corners(size [3]int) [][3]int {
	var out [][3]int
	sx, sy, sz := Starts(size[0], w.ROI[0], w.Overlap), Starts(size[1], w.ROI[1], w.Overlap), Starts(size[2], w.ROI[2], w.Overlap)
	for _, z := range sz {
		for _, y := range sy {
			for _, x := range sx {
				out = append(out, [3]int{x, y, z})
			}
		}
	}
	return out
}

// Run covers the grid (in: inC channels × size voxels, channel-major, x fastest) with windows and returns the
// blended output, outC channels × size voxels. The grid must be at least ROI on every axis. progress gets the
// windows done before the first batch and after every batch; cancelling ctx stops between batches and inside a run.
func (w Windows) Run(ctx context.Context, in []float32, size [3]int, inC, outC int, net Net, progress func(done, total int)) ([]float32, error) {
	n := size[0] * size[1] * size[2]
	if len(in) != inC*n {
		return nil, fmt.Errorf("m1: %d input values for %d channels of %v", len(in), inC, size)
	}
	for a := 0; a < 3; a++ {
		if size[a] < w.ROI[a] {
			return nil, fmt.Errorf("m1: grid %v smaller than the window %v", size, w.ROI)
		}
	}
	corners := w.corners(size)
	batch := max(w.Batch, 1)
	wn := w.ROI[0] * w.ROI[1] * w.ROI[2]
	imp := w.Importance()
	out := make([]float32, outC*n)
	sum := make([]float32, n)
	views := append([][3]bool{{}}, w.Flips...)
	if progress != nil {
		progress(0, len(corners))
	}
	for first := 0; first < len(corners); first += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part := corners[first:min(first+batch, len(corners))]
		b := len(part)
		x := make([]float32, b*inC*wn)
		for i, c := range part {
			copyWindow(x[i*inC*wn:], in, size, c, w.ROI, inC)
		}
		y := make([]float32, b*outC*wn)
		for _, f := range views {
			o, err := net(ctx, flip(x, b*inC, w.ROI, f), b)
			if err != nil {
				return nil, err
			}
			if len(o) != len(y) {
				return nil, fmt.Errorf("m1: the network gave %d values for %d windows of %d channels × %v", len(o), b, outC, w.ROI)
			}
			o = flip(o, b*outC, w.ROI, f)
			for i := range y {
				y[i] += o[i]
			}
		}
		inv := 1 / float32(len(views))
		for i, c := range part {
			win := y[i*outC*wn : (i+1)*outC*wn]
			for k := 0; k < outC; k++ {
				ch := win[k*wn : (k+1)*wn]
				for j := range ch {
					ch[j] *= imp[j] * inv
				}
			}
			addWindow(out, sum, win, imp, size, c, w.ROI, outC)
		}
		if progress != nil {
			progress(first+b, len(corners))
		}
	}
	for i, s := range sum {
		inv := 1 / s
		for k := 0; k < outC; k++ {
			out[k*n+i] *= inv
		}
	}
	return out, nil
}

// copyWindow copies the window at corner c (ROI r) of grid data (ch channels of size) into dst.
func copyWindow(dst, data []float32, size, c, r [3]int, ch int) {
	n, wn := size[0]*size[1]*size[2], r[0]*r[1]*r[2]
	for k := 0; k < ch; k++ {
		for z := 0; z < r[2]; z++ {
			for y := 0; y < r[1]; y++ {
				g := k*n + c[0] + size[0]*(c[1]+y+size[1]*(c[2]+z))
				d := k*wn + r[0]*(y+r[1]*z)
				copy(dst[d:d+r[0]], data[g:g+r[0]])
			}
		}
	}
}

// addWindow adds a weighted window output (ch channels) into the grid sums, and its weights into sum.
func addWindow(out, sum, win, imp []float32, size, c, r [3]int, ch int) {
	n, wn := size[0]*size[1]*size[2], r[0]*r[1]*r[2]
	for z := 0; z < r[2]; z++ {
		for y := 0; y < r[1]; y++ {
			g := c[0] + size[0]*(c[1]+y+size[1]*(c[2]+z))
			d := r[0] * (y + r[1]*z)
			for x := 0; x < r[0]; x++ {
				sum[g+x] += imp[d+x]
			}
			for k := 0; k < ch; k++ {
				o, s := out[k*n+g:k*n+g+r[0]], win[k*wn+d:k*wn+d+r[0]]
				for x := range o {
					o[x] += s[x]
				}
			}
		}
	}
}

// flip returns blocks (m blocks of ROI r, x fastest) mirrored along the axes f; the same slice when f is none.
func flip(data []float32, m int, r [3]int, f [3]bool) []float32 {
	if f == [3]bool{} {
		return data
	}
	wn := r[0] * r[1] * r[2]
	out := make([]float32, len(data))
	for b := 0; b < m; b++ {
		src, dst := data[b*wn:(b+1)*wn], out[b*wn:(b+1)*wn]
		for z := 0; z < r[2]; z++ {
			zz := z
			if f[2] {
				zz = r[2] - 1 - z
			}
			for y := 0; y < r[1]; y++ {
				yy := y
				if f[1] {
					yy = r[1] - 1 - y
				}
				s, d := src[r[0]*(y+r[1]*z):], dst[r[0]*(yy+r[1]*zz):]
				for x := 0; x < r[0]; x++ {
					if f[0] {
						d[r[0]-1-x] = s[x]
					} else {
						d[x] = s[x]
					}
				}
			}
		}
	}
	return out
}
