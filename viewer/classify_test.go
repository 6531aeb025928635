package viewer

import "testing"

func TestClassifyNames(t *testing.T) {
	tests := []struct {
		name string
		want SeriesType
	}{
		// BraTS and BIDS / UCSF-PDGM file stems.
		{"BraTS20_Training_001_t1", T1},
		{"BraTS20_Training_001_t1ce", T1CE},
		{"BraTS20_Training_001_t2", T2},
		{"BraTS20_Training_001_flair", FLAIR},
		{"BraTS20_Training_001_seg", SEG},
		{"sub-0004_T1w", T1},
		{"sub-0004_ce-T1w", T1CE},
		{"ce-T1w", T1CE},
		{"sub-0004_T2w", T2},
		{"sub-0004_FLAIR", FLAIR},
		{"sub-0004_seg", SEG},
		{"sub-0004_SWI", SWI},
		{"sub-0004_DWI", DWI},
		// Scanner series descriptions.
		{"T2-FLAIR", FLAIR},
		{"T2 FLAIR", FLAIR},
		{"t2_flair_fs", FLAIR},
		{"AX T2 FLAIR", FLAIR},
		{"t2_tirm_tra_dark-fluid", FLAIR},
		{"T1_MPRAGE_POST", T1CE},
		{"T1_MPRAGE", T1},
		{"t1_mprage_sag_p2_iso", T1},
		{"AX T1 +C", T1CE},
		{"T1+C", T1CE},
		{"T1 GD", T1CE},
		{"Ax T1 post gad", T1CE},
		{"T1W_SE_CONTRAST", T1CE},
		{"t1_vibe_enhanced", T1CE},
		{"3D T1 BRAVO", T1},
		{"AX T2 FSE", T2},
		{"t2_tse_tra", T2},
		{"T2W", T2},
		{"ep2d_diff_3scan_trace", DWI},
		{"ADC", DWI},
		{"SWI_Images", SWI},
		{"3DT1", T1},
		{"Localizer", Other},
		{"Patient2 survey", Other},
		{"", Other},
	}
	for _, tc := range tests {
		if got := Classify(SeriesHints{SeriesDescription: tc.name}); got != tc.want {
			t.Errorf("Classify(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestClassifyFallbacks(t *testing.T) {
	tests := []struct {
		name string
		h    SeriesHints
		want SeriesType
	}{
		{"SEG modality beats description", SeriesHints{Modality: "SEG", SeriesDescription: "T1"}, SEG},
		{"protocol when description is empty", SeriesHints{ProtocolName: "t2_flair_fs"}, FLAIR},
		{"contrast agent tag turns T1 into T1CE", SeriesHints{SeriesDescription: "T1 SE", ContrastAgent: "Gadovist"}, T1CE},
		{"TR/TE of a T1", SeriesHints{RepetitionTime: 500, EchoTime: 12}, T1},
		{"TR/TE of a T1 with contrast", SeriesHints{RepetitionTime: 500, EchoTime: 12, ContrastAgent: "Gd"}, T1CE},
		{"TR/TE of a T2", SeriesHints{RepetitionTime: 4500, EchoTime: 100}, T2},
		{"inversion of a FLAIR", SeriesHints{RepetitionTime: 9000, EchoTime: 90, InversionTime: 2500}, FLAIR},
		{"b-value", SeriesHints{DiffusionBValue: 1000}, DWI},
		{"nothing known", SeriesHints{}, Other},
	}
	for _, tc := range tests {
		if got := Classify(tc.h); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}
