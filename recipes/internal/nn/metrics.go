package nn

import "sort"

// ConcordanceIndex is Harrell's C for risk scores (higher = earlier event) against censored times: among pairs
// where the shorter time is an event, the share ordered correctly (ties in risk count one half).
func ConcordanceIndex(risk, t []float64, event []bool) float64 {
	concordant, comparable := 0.0, 0.0
	for i := range risk {
		if !event[i] {
			continue
		}
		for j := range risk {
			if t[j] <= t[i] {
				continue
			}
			comparable++
			switch {
			case risk[i] > risk[j]:
				concordant++
			case risk[i] == risk[j]:
				concordant += 0.5
			}
		}
	}
	if comparable == 0 {
		return 0.5
	}
	return concordant / comparable
}

// AUC is the area under the ROC curve (Mann–Whitney, ties count one half).
func AUC(score []float64, positive []bool) float64 {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] < score[idx[b]] })
	rankSum, pos := 0.0, 0
	for k := 0; k < len(idx); {
		end := k
		for end < len(idx) && score[idx[end]] == score[idx[k]] {
			end++
		}
		mid := float64(k+end+1) / 2 // average 1-based rank of the tie group
		for m := k; m < end; m++ {
			if positive[idx[m]] {
				rankSum += mid
				pos++
			}
		}
		k = end
	}
	neg := len(score) - pos
	if pos == 0 || neg == 0 {
		return 0.5
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg))
}

// Accuracy is the share of equal labels.
func Accuracy(pred, truth []int) float64 {
	ok := 0
	for i := range pred {
		if pred[i] == truth[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(pred))
}

// Median returns the median of v (v is not modified).
func Median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Quantile returns the q-quantile of v by linear interpolation.
func Quantile(v []float64, q float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(lo)
	return s[lo]*(1-f) + s[lo+1]*f
}

// KaplanMeier is the Kaplan–Meier estimate of survival at time t.
func KaplanMeier(days []float64, events []bool, t float64) float64 {
	idx := make([]int, len(days))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return days[idx[a]] < days[idx[b]] })
	s, atRisk := 1.0, len(days)
	for k := 0; k < len(idx); {
		d := days[idx[k]]
		if d > t {
			break
		}
		deaths, leaving := 0, 0
		for k < len(idx) && days[idx[k]] == d {
			if events[idx[k]] {
				deaths++
			}
			leaving++
			k++
		}
		s *= 1 - float64(deaths)/float64(atRisk)
		atRisk -= leaving
	}
	return s
}
