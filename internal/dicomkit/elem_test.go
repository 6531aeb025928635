package dicomkit

import (
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

func TestTrim(t *testing.T) {
	for in, want := range map[string]string{
		"T1 AX ":        "T1 AX",
		" T1\x00":       "T1",
		"1.2.3\x00":     "1.2.3",
		"\x00 x \x00":   "x",
		"  ":            "",
		"a b":           "a b",
		"name\t\r\n":    "name",
		"\x00\x00":      "",
		"DERIVED\\SEC ": "DERIVED\\SEC",
	} {
		if got := Trim(in); got != want {
			t.Errorf("Trim(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAccessors(t *testing.T) {
	el := func(tg tag.Tag, v any) *dicom.Element {
		e, err := dicom.NewElement(tg, v)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ds := dicom.Dataset{Elements: []*dicom.Element{
		el(tag.PatientID, []string{" P-1 "}),
		el(tag.SliceThickness, []string{"1.5 "}),
		el(tag.InstanceNumber, []string{"+7"}),
		el(tag.Rows, []int{256}),
		el(tag.PixelSpacing, []string{"0.5", "x"}),
	}}
	if got := Text(&ds, tag.PatientID); got != "P-1" {
		t.Errorf("Text: %q", got)
	}
	if Text(&ds, tag.StudyInstanceUID) != "" || String(nil) != "" || Strings(nil) != nil {
		t.Error("an absent element is not empty")
	}
	if v, ok := Floats(Find(ds.Elements, tag.SliceThickness)); !ok || len(v) != 1 || v[0] != 1.5 {
		t.Errorf("Floats: %v %v", v, ok)
	}
	if _, ok := Floats(Find(ds.Elements, tag.PixelSpacing)); ok {
		t.Error("Floats read a value that is not a number")
	}
	if n, ok, err := Int(Find(ds.Elements, tag.InstanceNumber)); n != 7 || !ok || err != nil {
		t.Errorf("Int IS: %d %v %v", n, ok, err)
	}
	if n, ok, err := Int(Find(ds.Elements, tag.Rows)); n != 256 || !ok || err != nil {
		t.Errorf("Int US: %d %v %v", n, ok, err)
	}
	if _, ok, err := Int(Find(ds.Elements, tag.Columns)); ok || err != nil {
		t.Errorf("Int of an absent element: %v %v", ok, err)
	}
	if TagName(tag.PatientID) != "Patient ID" || TagName(tag.Tag{Group: 0x0009, Element: 0x0010}) != "(0009,0010)" {
		t.Errorf("TagName: %q %q", TagName(tag.PatientID), TagName(tag.Tag{Group: 0x0009, Element: 0x0010}))
	}
}
