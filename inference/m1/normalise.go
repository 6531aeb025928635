package m1

import (
	"fmt"
	"math"
	"slices"

	"github.com/neuronova/neuronova/inference/model"
)

// Normalisation is how each input channel is scaled before the network, as the card says (model.Norm*).
type Normalisation struct {
	Method      string
	Percentiles [2]float64 // model.NormPercentile: lower and upper, 0–100
	ScaleRange  [2]float64 // model.NormPercentile: what the two percentiles become
	Mean, SD    []float64  // model.NormFixed: per channel, in the input's channel order
}

// normalisationOf reads the card's normalisation.
func normalisationOf(p *model.Preprocessing) Normalisation {
	n := Normalisation{Method: p.Normalisation, Mean: p.ChannelMean, SD: p.ChannelSD}
	if len(p.Percentiles) == 2 && len(p.ScaleRange) == 2 {
		n.Percentiles = [2]float64{p.Percentiles[0], p.Percentiles[1]}
		n.ScaleRange = [2]float64{p.ScaleRange[0], p.ScaleRange[1]}
	}
	return n
}

// ChannelStats are the values one channel was normalised with, in the series' own units.
type ChannelStats struct {
	Mean float64 `json:"mean,omitempty"` // z-scores: subtracted
	SD   float64 `json:"sd,omitempty"`   // z-scores: divided by
	Low  float64 `json:"low,omitempty"`  // percentile scaling: the lower percentile's value
	High float64 `json:"high,omitempty"` // percentile scaling: the upper percentile's value
}

// Apply normalises x, channel c of the input, in place.
func (n Normalisation) Apply(x []float32, c int) (ChannelStats, error) {
	switch n.Method {
	case model.NormZScoreBrain:
		m, sd := ZScoreNonZero(x)
		return ChannelStats{Mean: m, SD: sd}, nil
	case model.NormPercentile:
		lo, hi := PercentileScale(x, n.Percentiles, n.ScaleRange)
		return ChannelStats{Low: lo, High: hi}, nil
	case model.NormFixed:
		if c >= len(n.Mean) || c >= len(n.SD) || !(n.SD[c] > 0) {
			return ChannelStats{}, fmt.Errorf("m1: no fixed mean and SD for channel %d", c)
		}
		m, inv := float32(n.Mean[c]), float32(1/n.SD[c])
		for i, v := range x {
			x[i] = (v - m) * inv
		}
		return ChannelStats{Mean: n.Mean[c], SD: n.SD[c]}, nil
	case model.NormNone:
		return ChannelStats{}, nil
	}
	return ChannelStats{}, fmt.Errorf("%w: normalisation %q", ErrUnsupportedCard, n.Method)
}

// ZScoreNonZero z-scores x over its non-zero voxels (the brain of skull-stripped images) and leaves the zero
// voxels at 0, as MONAI's NormalizeIntensity(nonzero=True) does. It returns the mean and SD used; a channel with
// fewer than two non-zero voxels, or no spread, becomes all zeros.
func ZScoreNonZero(x []float32) (mean, sd float64) {
	var s, s2 float64
	n := 0
	for _, v := range x {
		if v != 0 {
			s += float64(v)
			s2 += float64(v) * float64(v)
			n++
		}
	}
	if n >= 2 {
		mean = s / float64(n)
		sd = math.Sqrt(max(s2/float64(n)-mean*mean, 0))
	}
	if !(sd > 1e-6) {
		clear(x)
		return mean, 0
	}
	m, inv := float32(mean), float32(1/sd)
	for i, v := range x {
		if v != 0 {
			x[i] = (v - m) * inv
		}
	}
	return mean, sd
}

// PercentileScale clips x to the values at percentiles pct of its non-zero voxels (linear interpolation between
// order statistics, as numpy.percentile) and maps that range linearly onto to; every voxel is mapped. A channel
// without non-zero voxels, or whose two percentiles coincide, becomes to[0] everywhere. It returns the two
// percentile values.
func PercentileScale(x []float32, pct, to [2]float64) (lo, hi float64) {
	var nz []float32
	for _, v := range x {
		if v != 0 {
			nz = append(nz, v)
		}
	}
	slices.Sort(nz)
	lo, hi = percentile(nz, pct[0]), percentile(nz, pct[1])
	if !(hi > lo) {
		for i := range x {
			x[i] = float32(to[0])
		}
		return lo, hi
	}
	scale := (to[1] - to[0]) / (hi - lo)
	for i, v := range x {
		x[i] = float32(to[0] + (min(max(float64(v), lo), hi)-lo)*scale)
	}
	return lo, hi
}

// percentile of sorted values, interpolating linearly between the two nearest ranks.
func percentile(sorted []float32, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	r := p / 100 * float64(len(sorted)-1)
	i := int(math.Floor(r))
	if i >= len(sorted)-1 {
		return float64(sorted[len(sorted)-1])
	}
	f := r - float64(i)
	return float64(sorted[i]) + f*(float64(sorted[i+1])-float64(sorted[i]))
}
