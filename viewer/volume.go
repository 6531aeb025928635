package viewer

import (
	"fmt"
	"math"
	"slices"
)

// Volume is a series' voxels in real-world units (the modality LUT, Rescale Slope/Intercept, already
// applied) on a Geometry. Grey-scale volumes have one sample per voxel; RGB volumes have three, interleaved.
type Volume struct {
	Geometry
	Samples int       // 1 (grey) or 3 (RGB)
	Data    []float32 // len = Len()·Samples, voxel (i, j, k) at Index(i, j, k)·Samples
	// Windows are the window presets stored in the files (WindowCenter/WindowWidth), first one first.
	Windows []Window
	// Thickness is the slices' SliceThickness in mm, 0 when unknown.
	Thickness float64
	// Slices are the images slice k of the grid comes from; nil for volumes not read from DICOM.
	Slices []SliceRef
}

// SliceRef is the DICOM image one slice of a volume was read from.
type SliceRef struct {
	Path                        string
	SOPInstanceUID, SOPClassUID string
	Frame                       int // from 0, for multi-frame files
}

// NewVolume allocates a grey-scale volume of zeros.
func NewVolume(g Geometry) *Volume {
	return &Volume{Geometry: g, Samples: 1, Data: make([]float32, g.Len())}
}

// At returns the value of voxel (i, j, k) (first sample for RGB).
func (v *Volume) At(i, j, k int) float32 { return v.Data[v.Index(i, j, k)*v.Samples] }

// Check reports a volume whose data does not match its geometry.
func (v *Volume) Check() error {
	if err := v.Geometry.Validate(); err != nil {
		return err
	}
	if v.Samples != 1 && v.Samples != 3 {
		return fmt.Errorf("volume: %d samples per voxel (want 1 or 3)", v.Samples)
	}
	if len(v.Data) != v.Len()*v.Samples {
		return fmt.Errorf("volume: %d values for %v×%d samples", len(v.Data), v.Size, v.Samples)
	}
	return nil
}

// Range returns the smallest and largest value.
func (v *Volume) Range() (lo, hi float32) {
	if len(v.Data) == 0 {
		return 0, 0
	}
	lo, hi = v.Data[0], v.Data[0]
	for _, x := range v.Data {
		lo = min(lo, x)
		hi = max(hi, x)
	}
	return lo, hi
}

// Percentiles returns the values below which the fractions ps (0..1) of the non-background voxels lie.
// Background is the volume's minimum value, which in MR is the air around the head; when every voxel is
// background, all voxels count. It samples at most about a million voxels and selects each percentile in
// linear time, so it is cheap on any volume.
func (v *Volume) Percentiles(ps ...float64) []float64 {
	lo, _ := v.Range()
	step := max(1, len(v.Data)/(1<<20))
	sample := make([]float32, 0, len(v.Data)/step+1)
	for i := 0; i < len(v.Data); i += step {
		if v.Data[i] > lo {
			sample = append(sample, v.Data[i])
		}
	}
	if len(sample) == 0 {
		sample = append(sample, lo)
	}
	out := make([]float64, len(ps))
	for n, p := range ps {
		idx := int(math.Round(p * float64(len(sample)-1)))
		out[n] = float64(nthElement(sample, min(max(idx, 0), len(sample)-1)))
	}
	return out
}

// nthElement reorders a so that a[k] is the value a sorted copy would hold there, everything before it no
// larger and everything after it no smaller, and returns a[k] (Hoare's selection, median-of-three pivots;
// a holds no NaN).
func nthElement(a []float32, k int) float32 {
	lo, hi := 0, len(a)-1
	for hi > lo {
		if hi-lo < 16 {
			slices.Sort(a[lo : hi+1])
			return a[k]
		}
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// Window is a VOI window: values from Center−Width/2 to Center+Width/2 span black to white.
type Window struct {
	Center, Width float64
	Name          string // "" for unnamed presets
}

// AutoWindow is the MR default window: the 1st to 99.5th percentile of the non-background voxels.
func (v *Volume) AutoWindow() Window {
	p := v.Percentiles(0.01, 0.995)
	w := max(p[1]-p[0], 1)
	return Window{Center: p[0] + w/2, Width: w, Name: "Auto"}
}
