package dcmwrite

import (
	"bytes"
	"errors"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"math"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

func TestFormatDS(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 0.5, -119.5, 1e-20, -3.0000000000000004, 0.98006657784124163, 123456789012.345678, -1.2345678901234567e-300, 1e300, math.Pi} {
		s, err := FormatDS(v)
		if err != nil {
			t.Fatalf("FormatDS(%v): %v", v, err)
		}
		if len(s) > 16 || strings.ContainsAny(s, " ,") {
			t.Fatalf("FormatDS(%v) = %q: not a 16-character DS", v, s)
		}
		rel := 1e-13 // 16 characters hold 14 significant digits in plain notation, fewer with an exponent
		if v != 0 && (math.Abs(v) < 1e-3 || math.Abs(v) > 1e12) {
			rel = 1e-8
		}
		if got := parseDS(s); math.Abs(got-v) > rel*math.Abs(v) {
			t.Fatalf("FormatDS(%v) = %q reads back as %v", v, s, got)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := FormatDS(v); !errors.Is(err, ErrInvalidValue) {
			t.Fatalf("FormatDS(%v) error %v, want ErrInvalidValue", v, err)
		}
	}
}

func TestBuilderRejects(t *testing.T) {
	cases := []struct {
		name string
		add  func(b *Builder)
		says string
	}{
		{"long LO", func(b *Builder) { b.String(tag.PatientID, strings.Repeat("x", 65)) }, "(0010,0020)"},
		{"lower-case CS", func(b *Builder) { b.String(tag.Modality, "mr") }, "CS value"},
		{"bad UID", func(b *Builder) { b.String(tag.StudyInstanceUID, "1.02.3") }, "not a UID"},
		{"backslash", func(b *Builder) { b.String(tag.SeriesDescription, `a\b`) }, "backslash"},
		{"NaN DS", func(b *Builder) { b.Decimal(tag.SliceThickness, math.NaN()) }, "NaN"},
		{"huge IS", func(b *Builder) { b.Integer(tag.SeriesNumber, 1<<40) }, "range of IS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b Builder
			b.String(tag.Modality, "MR")
			c.add(&b)
			b.String(tag.PatientName, "OK")
			elems, err := b.Elements()
			if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want ErrInvalidValue mentioning %q", err, c.says)
			}
			if len(elems) != 2 {
				t.Fatalf("%d elements kept, want the 2 valid ones", len(elems))
			}
		})
	}
}

func minimalDataset(t *testing.T, extra func(b *Builder)) []*dicom.Element {
	t.Helper()
	var b Builder
	b.String(tag.SOPInstanceUID, "1.2.3.4")
	b.String(tag.PatientName, "Z^Z")
	b.String(tag.SOPClassUID, MRImageStorage)
	if extra != nil {
		extra(&b)
	}
	elems, err := b.Elements()
	if err != nil {
		t.Fatal(err)
	}
	return elems
}

func TestEncodeSortsAndAddsMeta(t *testing.T) {
	item := []*dicom.Element{}
	{
		var ib Builder
		ib.String(tag.CodeMeaning, "x")
		ib.String(tag.CodeValue, "1")
		item, _ = ib.Elements()
	}
	elems := minimalDataset(t, func(b *Builder) { b.Sequence(tag.AnatomicRegionSequence, item) })
	var buf bytes.Buffer
	if err := Encode(&buf, elems); err != nil {
		t.Fatal(err)
	}
	ds, err := dicom.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
	if err != nil {
		t.Fatal(err)
	}
	var last tag.Tag
	for i, e := range ds.Elements {
		if i > 0 && e.Tag.Compare(last) <= 0 {
			t.Fatalf("%s after %s: not in tag order", tag.DebugString(e.Tag), tag.DebugString(last))
		}
		last = e.Tag
	}
	for _, want := range []struct {
		t tag.Tag
		v string
	}{{tag.MediaStorageSOPInstanceUID, "1.2.3.4"}, {tag.ImplementationClassUID, ImplementationClassUID}, {tag.TransferSyntaxUID, "1.2.840.10008.1.2.1"}} {
		e, err := ds.FindElementByTag(want.t)
		if err != nil || dicom.MustGetStrings(e.Value)[0] != want.v {
			t.Fatalf("%s: %v %v", tag.DebugString(want.t), e, err)
		}
	}
	if item[0].Tag != tag.CodeValue {
		t.Fatal("sequence item not sorted")
	}
	if _, err := ds.FindElementByTag(tag.SpecificCharacterSet); err == nil {
		t.Fatal("Specific Character Set written for an ASCII dataset")
	}
}

func TestEncodeUTF8AndDuplicates(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, minimalDataset(t, func(b *Builder) { b.String(tag.StudyDescription, "Hirntumor Ödem") })); err != nil {
		t.Fatal(err)
	}
	ds, err := dicom.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ds.FindElementByTag(tag.SpecificCharacterSet)
	if err != nil || dicom.MustGetStrings(e.Value)[0] != "ISO_IR 192" {
		t.Fatalf("Specific Character Set %v %v, want ISO_IR 192", e, err)
	}
	err = Encode(&buf, minimalDataset(t, func(b *Builder) { b.String(tag.PatientName, "A^B") }))
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate tag: error %v", err)
	}
	var b Builder
	b.String(tag.PatientName, "A")
	elems, _ := b.Elements()
	if err := Encode(&buf, elems); err == nil || !strings.Contains(err.Error(), "SOPInstanceUID") {
		t.Fatalf("missing SOP UIDs: error %v", err)
	}
}

// TestUIDs: the implementation class UID is a UID (NewUID and DeterministicUID are dicomkit's, tested there).
func TestUIDs(t *testing.T) {
	if !dicomkit.ValidUID(ImplementationClassUID) {
		t.Fatalf("ImplementationClassUID %q", ImplementationClassUID)
	}
}
