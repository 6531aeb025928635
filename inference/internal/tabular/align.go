package tabular

import (
	"fmt"
	"slices"
	"strings"

	"github.com/neuronova/neuronova/inference/model"
)

// MaxUnknownListed caps how many unknown names a report lists (a whole-transcriptome file has ~20,000).
const MaxUnknownListed = 20

// ErrDuplicate reports a feature given on two rows.
var ErrDuplicate = fmt.Errorf("%w: feature given twice", ErrBadCSV)

// Alignment reports how a file's rows matched the card's feature list. Every list is in card order or sorted, so
// the report does not depend on row order.
type Alignment struct {
	ModelFeatures int      `json:"model_features"`
	Matched       int      `json:"matched"`
	Missing       []string `json:"missing"`                  // card features absent from the file, card order
	NoValue       []string `json:"no_value,omitempty"`       // present with NA or empty, card order
	UnknownCount  int      `json:"unknown_count"`            // file rows that match no card feature
	UnknownSample []string `json:"unknown_sample,omitempty"` // the first MaxUnknownListed of them, sorted
	MaxValue      float64  `json:"max_value"`                // the largest value in the file
	Log2Applied   bool     `json:"log2_applied"`
}

// MissingFraction is the share of card features without a value.
func (a *Alignment) MissingFraction() float64 {
	return float64(len(a.Missing)+len(a.NoValue)) / float64(a.ModelFeatures)
}

// Matcher turns a file name into candidate card keys, tried in order.
type Matcher func(name string) []string

// GeneNames matches HGNC symbols case-insensitively; "TP53|7157" is read as TP53.
func GeneNames(name string) []string {
	symbol, _, _ := strings.Cut(name, "|")
	return []string{model.FeatureKey(symbol)}
}

// ProteinNames matches RPPA names case-insensitively, whole ("EGFR|EGFR_pY1068"); the caller adds the
// antibody-only fallback with AntibodyIndex.
func ProteinNames(name string) []string { return []string{model.FeatureKey(name)} }

// Align places the file's values in card order. Values of missing features are left at 0 and reported. A card
// feature given on two rows is an error naming both lines.
func Align(t *Table, features []model.Feature, match Matcher, aliases map[string]string) ([]float64, []bool, Alignment, error) {
	index := make(map[string]int, len(features))
	for i, f := range features {
		index[model.FeatureKey(f.Symbol)] = i
	}
	values := make([]float64, len(features))
	present := make([]bool, len(features))
	line := make([]int, len(features))
	a := Alignment{ModelFeatures: len(features), Missing: []string{}}
	var unknown []string
	first := true
	for _, r := range t.Rows {
		if !r.NoValue && (first || r.Value > a.MaxValue) {
			a.MaxValue, first = r.Value, false
		}
		i, ok := lookup(index, aliases, match(r.Name))
		if !ok {
			unknown = append(unknown, r.Name)
			continue
		}
		if line[i] != 0 {
			return nil, nil, Alignment{}, fmt.Errorf("%w: %s is on lines %d and %d", ErrDuplicate, features[i].Symbol, line[i], r.Line)
		}
		line[i] = r.Line
		if r.NoValue {
			continue
		}
		values[i], present[i] = r.Value, true
		a.Matched++
	}
	for i, f := range features {
		switch {
		case line[i] == 0:
			a.Missing = append(a.Missing, f.Symbol)
		case !present[i]:
			a.NoValue = append(a.NoValue, f.Symbol)
		}
	}
	a.UnknownCount = len(unknown)
	slices.Sort(unknown)
	a.UnknownSample = unknown[:min(len(unknown), MaxUnknownListed)]
	return values, present, a, nil
}

func lookup(index map[string]int, aliases map[string]string, keys []string) (int, bool) {
	for _, k := range keys {
		if i, ok := index[k]; ok {
			return i, true
		}
		if full, ok := aliases[k]; ok {
			if i, ok := index[full]; ok {
				return i, true
			}
		}
	}
	return 0, false
}

// AntibodyAliases maps the antibody part of "GENE|Antibody" names to the full key, for antibodies that occur in
// exactly one card entry, so that files naming antibodies only ("EGFR_pY1068") still align.
func AntibodyAliases(features []model.Feature) map[string]string {
	count := map[string]int{}
	full := map[string]string{}
	for _, f := range features {
		_, antibody, ok := strings.Cut(f.Symbol, "|")
		if !ok {
			continue
		}
		k := model.FeatureKey(antibody)
		count[k]++
		full[k] = model.FeatureKey(f.Symbol)
	}
	aliases := map[string]string{}
	for k, n := range count {
		if n == 1 {
			aliases[k] = full[k]
		}
	}
	return aliases
}
