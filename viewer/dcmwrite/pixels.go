package dcmwrite

import (
	"encoding/binary"
	"fmt"
	"math"
)

// rescale is how a float32 volume is stored as 16-bit values: value = stored·Slope + Intercept, with the
// slope and intercept exactly as their Decimal Strings read back.
type rescale struct {
	Signed           bool
	Slope, Intercept float64
	SlopeDS, InterDS string
}

// chooseRescale picks the 16-bit encoding of data. Whole-numbered data that fits uint16 or int16 (or spans
// at most 65,535 after an integer intercept) is stored exactly with slope 1; anything else is spread
// over 0..65535, so every value comes back within half a stored step (Slope/2).
func chooseRescale(data []float32) (rescale, error) {
	if len(data) == 0 {
		return rescale{}, fmt.Errorf("dcmwrite: empty volume")
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	whole := true
	for i, x := range data {
		v := float64(x)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return rescale{}, fmt.Errorf("dcmwrite: voxel %d is %v: DICOM cannot store it", i, x)
		}
		lo, hi = min(lo, v), max(hi, v)
		if whole && v != math.Trunc(v) {
			whole = false
		}
	}
	r := rescale{Slope: 1, SlopeDS: "1", InterDS: "0"}
	switch {
	case whole && lo >= 0 && hi <= math.MaxUint16:
		return r, nil
	case whole && lo >= math.MinInt16 && hi <= math.MaxInt16:
		r.Signed = true
		return r, nil
	case whole && hi-lo <= math.MaxUint16 && math.Abs(lo) < 1e15:
		r.Intercept = lo
		r.InterDS, _ = FormatDS(lo)
		return r, nil
	}
	// Intercept at or below the minimum, slope at or above the step that fits the range in 65,535 levels,
	// both as their Decimal Strings read back.
	inter := lo
	for n := 0; ; n++ {
		s, err := FormatDS(inter)
		if err != nil {
			return r, err
		}
		if p := parseDS(s); p <= lo {
			r.Intercept, r.InterDS = p, s
			break
		}
		if n == 60 {
			return r, fmt.Errorf("dcmwrite: no Decimal String intercept at or below %v", lo)
		}
		inter -= math.Max(math.Abs(lo), 1) * 1e-15 * math.Pow(2, float64(n))
	}
	need := (hi - r.Intercept) / math.MaxUint16
	if need == 0 {
		return r, nil // constant non-integer volume: stored 0, value = intercept
	}
	slope := need
	for n := 0; ; n++ {
		s, err := FormatDS(slope)
		if err != nil {
			return r, err
		}
		if p := parseDS(s); p >= need {
			r.Slope, r.SlopeDS = p, s
			break
		}
		if n == 60 {
			return r, fmt.Errorf("dcmwrite: no Decimal String slope at or above %v", need)
		}
		slope += need * 1e-15 * math.Pow(2, float64(n))
	}
	return r, nil
}

// encode writes one slice of values as little-endian 16-bit stored values into dst (2 bytes per value).
func (r rescale) encode(dst []byte, src []float32) {
	if r.Slope == 1 && r.Intercept == 0 {
		for i, x := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], uint16(int32(x)))
		}
		return
	}
	lim := float64(math.MaxUint16)
	for i, x := range src {
		s := math.Round((float64(x) - r.Intercept) / r.Slope)
		s = min(max(s, 0), lim)
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(s))
	}
}
