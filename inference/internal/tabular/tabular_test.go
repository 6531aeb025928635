package tabular

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference/model"
)

var genes = Format{
	Kind:        "gene expression",
	NameHeaders: []string{"Hugo_Symbol", "gene"},
	ValueHeader: []string{"Expression", "value"},
	NotValues:   []string{"Entrez_Gene_Id"},
}

func TestParseShapes(t *testing.T) {
	want := []Row{{Line: 2, Name: "TP53", Value: 12.5}, {Line: 3, Name: "EGFR", Value: 300}}
	tests := map[string]struct {
		in         string
		rows       []Row
		nameColumn string
		header     bool
	}{
		"TCGA three columns": {"Hugo_Symbol,Entrez_Gene_Id,Expression\nTP53,7157,12.5\nEGFR,1956,300\n", want, "Hugo_Symbol", true},
		"columns reordered":  {"Expression,Hugo_Symbol,Entrez_Gene_Id\n12.5,TP53,7157\n300,EGFR,1956\n", want, "Hugo_Symbol", true},
		"two with header":    {"symbol,level\nTP53,12.5\nEGFR,300\n", want, "symbol", true},
		"two without header": {"TP53,12.5\nEGFR,300\n", []Row{{Line: 1, Name: "TP53", Value: 12.5}, {Line: 2, Name: "EGFR", Value: 300}}, "column 1", false},
		"tabs, CRLF, BOM":    {"\xef\xbb\xbfHugo_Symbol\tExpression\r\nTP53\t12.5\r\nEGFR\t3e2\r\n", want, "Hugo_Symbol", true},
		"spaces and case":    {"hugo_symbol, EXPRESSION\n TP53 , 12.5\nEGFR, 300\n", want, "hugo_symbol", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tab, err := Parse(strings.NewReader(tc.in), genes)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tab.Rows, tc.rows) {
				t.Errorf("rows %+v, want %+v", tab.Rows, tc.rows)
			}
			if tab.NameColumn != tc.nameColumn || tab.HasHeader != tc.header {
				t.Errorf("name column %q header %v, want %q %v", tab.NameColumn, tab.HasHeader, tc.nameColumn, tc.header)
			}
		})
	}
}

func TestParseMarksUnmeasuredValues(t *testing.T) {
	tab, err := Parse(strings.NewReader("gene,value\nA,NA\nB,\nC,nan\nD,1\n"), genes)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range tab.Rows[:3] {
		if !r.NoValue {
			t.Errorf("row %d (%s) not marked as unmeasured", i, r.Name)
		}
	}
	if tab.Rows[3].NoValue || tab.Rows[3].Value != 1 {
		t.Errorf("row D: %+v", tab.Rows[3])
	}
}

func TestParseErrorsNameTheFault(t *testing.T) {
	long := strings.Repeat("x", MaxFieldBytes+1)
	tests := map[string]struct {
		in   string
		opts []Option
		want error
		msg  string
	}{
		"not a number":     {"Hugo_Symbol,Expression\nTP53,12.5\nEGFR,high\n", nil, ErrBadCSV, `line 3, column Expression: "high" is not a finite number`},
		"infinite":         {"gene,value\nTP53,1e999\n", nil, ErrBadCSV, "line 2, column value"},
		"field count":      {"Hugo_Symbol,Entrez_Gene_Id,Expression\nTP53,7157,1\nEGFR,1956\n", nil, ErrBadCSV, "line 3: 2 fields, but the first row has 3"},
		"empty name":       {"gene,value\n,3\n", nil, ErrBadCSV, "line 2, column gene: empty name"},
		"no value column":  {"Hugo_Symbol,Entrez_Gene_Id,Count\nTP53,7157,1\n", nil, ErrBadCSV, "needs a name column"},
		"entrez as value":  {"Hugo_Symbol,Entrez_Gene_Id\nTP53,7157\n", nil, ErrBadCSV, "column 2 is Entrez_Gene_Id, an identifier"},
		"three no header":  {"TP53,7157,1\n", nil, ErrBadCSV, "3 columns and no recognised header"},
		"empty":            {"", nil, ErrBadCSV, "is empty"},
		"header only":      {"Hugo_Symbol,Expression\n", nil, ErrBadCSV, "no data rows"},
		"bad quote":        {"gene,value\n\"TP53,1\n", nil, ErrBadCSV, "line 2"},
		"long field":       {"gene,value\n" + long + ",1\n", nil, ErrBadCSV, "line 2, column 1: field of"},
		"not UTF-8":        {"gene,value\nTP\xff53,1\n", nil, ErrBadCSV, "not UTF-8"},
		"too many bytes":   {"gene,value\nTP53,1\n", []Option{WithMaxBytes(10)}, ErrTooLarge, "larger than 10 bytes"},
		"too many rows":    {"gene,value\nA,1\nB,2\nC,3\n", []Option{WithMaxRows(2)}, ErrTooLarge, "more than 2 data rows"},
		"header misplaced": {"Expression,Expression\n1,2\n", nil, ErrBadCSV, "column 1 is Expression, a value column"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in), genes, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func cardFeatures(symbols ...string) []model.Feature {
	out := make([]model.Feature, len(symbols))
	for i, s := range symbols {
		out[i] = model.Feature{Symbol: s, Mean: 0, SD: 1}
	}
	return out
}

func TestAlignByName(t *testing.T) {
	features := cardFeatures("MGMT", "EGFR", "TP53", "PTEN", "IDH1")
	in := "Hugo_Symbol,Entrez_Gene_Id,Expression\n" +
		"LOC100130426,100130426,0\n" + // unknown
		"tp53,7157,5\n" + // case-insensitive
		"EGFR|1956,1956,300\n" + // SYMBOL|ENTREZ
		"PTEN,5728,NA\n" + // present without a value
		"MGMT,4255,7\n" +
		"?,100133144,2\n" // unknown
	tab, err := Parse(strings.NewReader(in), genes)
	if err != nil {
		t.Fatal(err)
	}
	values, present, a, err := Align(tab, features, GeneNames, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{7, 300, 5, 0, 0}; !reflect.DeepEqual(values, want) {
		t.Errorf("values %v, want %v", values, want)
	}
	if want := []bool{true, true, true, false, false}; !reflect.DeepEqual(present, want) {
		t.Errorf("present %v, want %v", present, want)
	}
	want := Alignment{ModelFeatures: 5, Matched: 3, Missing: []string{"IDH1"}, NoValue: []string{"PTEN"},
		UnknownCount: 2, UnknownSample: []string{"?", "LOC100130426"}, MaxValue: 300}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("alignment %+v, want %+v", a, want)
	}
	if got := a.MissingFraction(); math.Abs(got-0.4) > 1e-12 {
		t.Errorf("missing fraction %v, want 0.4", got)
	}
}

func TestAlignRefusesDuplicates(t *testing.T) {
	tab, err := Parse(strings.NewReader("gene,value\nTP53,1\nEGFR,2\ntp53,3\n"), genes)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = Align(tab, cardFeatures("TP53", "EGFR"), GeneNames, nil)
	if !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), "TP53 is on lines 2 and 4") {
		t.Fatalf("error %v", err)
	}
}

func TestAntibodyAliases(t *testing.T) {
	features := cardFeatures("EGFR|EGFR", "EGFR|EGFR_pY1068", "AKT1 AKT2 AKT3|Akt", "AKT1|Akt")
	aliases := AntibodyAliases(features)
	if aliases["EGFR_PY1068"] != "EGFR|EGFR_PY1068" {
		t.Errorf("unique antibody not aliased: %v", aliases)
	}
	if _, ok := aliases["AKT"]; ok {
		t.Errorf("ambiguous antibody Akt aliased: %v", aliases)
	}
	tab, err := Parse(strings.NewReader("Protein_Name,Expression\nEGFR_pY1068,0.4\nEGFR|EGFR,-0.2\n"),
		Format{Kind: "RPPA", NameHeaders: []string{"Protein_Name"}, ValueHeader: []string{"Expression"}})
	if err != nil {
		t.Fatal(err)
	}
	values, _, a, err := Align(tab, features, ProteinNames, aliases)
	if err != nil {
		t.Fatal(err)
	}
	if values[0] != -0.2 || values[1] != 0.4 || a.Matched != 2 || a.UnknownCount != 0 || a.Missing == nil {
		t.Errorf("values %v alignment %+v", values, a)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Hugo_Symbol,Entrez_Gene_Id,Expression\nTP53,7157,12.5\nEGFR,1956,300\n")
	f.Add("TP53,1\nEGFR,NA\n")
	f.Add("gene\tvalue\r\nA\t1e3\r\n")
	f.Add("\"a,b\",\"1\"\n")
	f.Add("Hugo_Symbol,Entrez_Gene_Id\nTP53,7157\n")
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := Parse(strings.NewReader(in), genes, WithMaxBytes(1<<16), WithMaxRows(1000))
		if err != nil {
			if !errors.Is(err, ErrBadCSV) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps neither ErrBadCSV nor ErrTooLarge", err)
			}
			return
		}
		if len(tab.Rows) == 0 {
			t.Fatal("accepted a file without rows")
		}
		for _, r := range tab.Rows {
			if r.Name == "" || r.Line < 1 || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				t.Fatalf("accepted a bad row %+v", r)
			}
		}
		if _, _, _, err := Align(tab, cardFeatures("TP53", "EGFR"), GeneNames, nil); err != nil && !errors.Is(err, ErrDuplicate) {
			t.Fatalf("Align: %v", err)
		}
	})
}
