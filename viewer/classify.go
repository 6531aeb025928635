package viewer

import (
	"regexp"
	"strings"
)

// SeriesType is what a series shows, as far as brain-tumour reading is concerned.
type SeriesType string

const (
	T1    SeriesType = "T1"
	T1CE  SeriesType = "T1CE"
	T2    SeriesType = "T2"
	FLAIR SeriesType = "FLAIR"
	SEG   SeriesType = "SEG"
	DWI   SeriesType = "DWI"
	SWI   SeriesType = "SWI"
	Other SeriesType = "OTHER"
)

// BrainTumourTypes are the four sequences the hanging protocol and the M1 model use, in model channel order.
var BrainTumourTypes = []SeriesType{T1, T1CE, T2, FLAIR}

// ParseSeriesType accepts a type name in any case ("t1ce", "FLAIR").
func ParseSeriesType(s string) (SeriesType, bool) {
	t := SeriesType(strings.ToUpper(strings.TrimSpace(s)))
	switch t {
	case T1, T1CE, T2, FLAIR, SEG, DWI, SWI, Other:
		return t, true
	case "T1C", "T1GD", "T1POST":
		return T1CE, true
	}
	return "", false
}

// SeriesHints are the header values the classifier reads.
type SeriesHints struct {
	Modality          string  // (0008,0060); "SEG" wins outright
	SeriesDescription string  // (0008,103E)
	ProtocolName      string  // (0018,1030)
	SequenceName      string  // (0018,0024)
	ScanningSequence  string  // (0018,0020), e.g. `SE\IR`
	ContrastAgent     string  // (0018,0010) ContrastBolusAgent; any value means contrast was given
	EchoTime          float64 // ms, 0 when absent
	RepetitionTime    float64 // ms, 0 when absent
	InversionTime     float64 // ms, 0 when absent
	DiffusionBValue   float64 // s/mm², 0 when absent
}

var (
	// Words are matched on a normalised name: lower case, every run of non-alphanumerics except "+" turned
	// into one space, so "T2-FLAIR", "t2_flair_fs" and "sub-0004_ce-T1w" all split into words.
	reSeg   = regexp.MustCompile(`(^| )(seg|segmentation|labels?|mask)( |$)`)
	reFlair = regexp.MustCompile(`flair|(^| )(tirm|dark ?fluid|t2f)( |$)`) // t2f: BraTS 2023's T2-FLAIR
	reDWI   = regexp.MustCompile(`(^| )(dwi|adc|trace|ep2d diff|diffusion|dti|b ?1000)( |$)|diff`)
	reSWI   = regexp.MustCompile(`(^| )(swi|swan|susceptibility|t2\*|t2star|gre|mag|pha)( |$)`)
	reCE    = regexp.MustCompile(`(^| )(ce|c|gd|gad|gado|post|postcontrast|contrast|enhanced|t1ce|t1c|t1gd|t1post|mprage post)( |$)|\+ ?c( |$)|\+ ?gd|post ?gd|gad(o|olinium)`)
	reT1    = regexp.MustCompile(`(^| )(t1|t1w|t1ce|t1c|t1gd|mprage|spgr|bravo|tfl|vibe|flash)( |$)|(^|[^a-z]|3d)t1`)
	reT2    = regexp.MustCompile(`(^| )(t2|t2w|tse t2|fse t2)( |$)|(^|[^a-z]|3d)t2`)
	reNonAl = regexp.MustCompile(`[^a-z0-9+*]+`)
)

func normaliseName(s string) string {
	s = strings.ToLower(s)
	s = reNonAl.ReplaceAllString(s, " ")
	return strings.TrimSpace(s)
}

// Classify decides a series' type from its names first (description, then protocol, then sequence name)
// and from its acquisition parameters when the names say nothing. Rules, in order: SEG modality or name;
// FLAIR before T2 (a "T2-FLAIR" is FLAIR); DWI; SWI; a contrast marker before T1 (a "T1_MPRAGE_POST" is
// T1CE); T1; T2; then TR/TE/TI.
func Classify(h SeriesHints) SeriesType {
	if strings.EqualFold(strings.TrimSpace(h.Modality), "SEG") {
		return SEG
	}
	for _, name := range []string{h.SeriesDescription, h.ProtocolName, h.SequenceName} {
		if t := classifyName(normaliseName(name), h.ContrastAgent != ""); t != Other {
			return t
		}
	}
	return classifyParameters(h)
}

func classifyName(n string, contrast bool) SeriesType {
	switch {
	case n == "":
		return Other
	case reSeg.MatchString(n):
		return SEG
	case reFlair.MatchString(n):
		return FLAIR
	case reDWI.MatchString(n):
		return DWI
	case reSWI.MatchString(n):
		return SWI
	case reT1.MatchString(n):
		if contrast || reCE.MatchString(n) {
			return T1CE
		}
		return T1
	case reCE.MatchString(n) && !reT2.MatchString(n):
		return T1CE // "ce", "post gd": contrast series are T1-weighted in a brain-tumour protocol
	case reT2.MatchString(n):
		return T2
	}
	return Other
}

// classifyParameters uses the textbook MR weighting rules when the names are silent.
func classifyParameters(h SeriesHints) SeriesType {
	switch {
	case h.DiffusionBValue > 0:
		return DWI
	case h.InversionTime >= 1500 && h.RepetitionTime >= 4000:
		return FLAIR
	case h.RepetitionTime > 0 && h.EchoTime > 0 && h.RepetitionTime < 1000 && h.EchoTime < 30:
		if h.ContrastAgent != "" {
			return T1CE
		}
		return T1
	case h.RepetitionTime >= 2000 && h.EchoTime >= 60:
		return T2
	}
	return Other
}
