package deid

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
	"github.com/neuronova/neuronova/viewer/demo"
	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// sampleFile writes one small MR slice with identifying attributes, a private tag, an overlay comment
// and a nested UID reference, and returns its path.
func sampleFile(t testing.TB) string {
	t.Helper()
	p := demo.DefaultParams()
	p.Grid = viewer.Geometry{Size: [3]int{32, 32, 2}, Spacing: viewer.Vec3{6, 6, 10}, Origin: viewer.Vec3{-93, -93, -5}, Direction: viewer.IdentityDirection}
	st, err := demo.NewStudy(p)
	if err != nil {
		t.Fatal(err)
	}
	st.Series = st.Series[:1]
	dir := t.TempDir()
	paths, err := dcmwrite.WriteStudy(dir, st)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dicom.ParseFile(paths[0], nil, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		t.Fatal(err)
	}
	var b dcmwrite.Builder
	b.String(tag.InstitutionName, "ST ELSEWHERE HOSPITAL")
	b.String(tag.OperatorsName, "OPERATOR^OLGA")
	b.String(tag.PatientAddress, "1 SECRET STREET")
	b.String(tag.OtherPatientIDs, "SECRET-ID-2")
	b.String(tag.DeviceSerialNumber, "SN-SECRET")
	var ref dcmwrite.Builder
	ref.String(tag.ReferencedSOPClassUID, "1.2.840.10008.5.1.4.1.1.4")
	ref.String(tag.ReferencedSOPInstanceUID, "1.2.3.4.5.6.7.8.9.424242")
	item, err := ref.Elements()
	if err != nil {
		t.Fatal(err)
	}
	b.Sequence(tag.SourceImageSequence, item)
	more, err := b.Elements()
	if err != nil {
		t.Fatal(err)
	}
	set := map[tag.Tag]bool{}
	for _, e := range more {
		set[e.Tag] = true
	}
	var elems []*dicom.Element
	for _, e := range ds.Elements {
		if e.Tag.Group != tag.MetadataGroup && !set[e.Tag] { // the writer's InstitutionName gives way to ours
			elems = append(elems, e)
		}
	}
	priv, _ := dicom.NewValue([]string{"PRIVATE SECRET"})
	elems = append(elems, more...)
	elems = append(elems, &dicom.Element{Tag: tag.Tag{Group: 0x0029, Element: 0x0010}, ValueRepresentation: tag.VRString, RawValueRepresentation: "LO", Value: priv})
	ov, _ := dicom.NewValue([]string{"OVERLAY SECRET"})
	elems = append(elems, &dicom.Element{Tag: tag.Tag{Group: 0x6000, Element: 0x4000}, ValueRepresentation: tag.VRString, RawValueRepresentation: "LT", Value: ov})
	out := filepath.Join(dir, "sample.dcm")
	if err := dcmwrite.WriteFile(out, elems); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAnonymizeFile(t *testing.T) {
	src := sampleFile(t)
	orig, err := viewer.ParseFile(src)
	if err != nil {
		t.Fatal(err)
	}
	a := New("test salt")
	data, err := a.Bytes(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"ELSEWHERE", "OLGA", "SECRET", orig.Study.PatientName, orig.Study.PatientID, orig.Study.UID,
		orig.Series.UID, orig.Instance.SOPInstanceUID, orig.Series.FrameOfReferenceUID, "1.2.3.4.5.6.7.8.9"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("output still contains %q", secret)
		}
	}
	out := filepath.Join(t.TempDir(), "anon.dcm")
	if err := os.WriteFile(out, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := viewer.ParseFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Study.UID != a.UID(orig.Study.UID) || got.Instance.SOPInstanceUID != a.UID(orig.Instance.SOPInstanceUID) ||
		got.Series.FrameOfReferenceUID != a.UID(orig.Series.FrameOfReferenceUID) {
		t.Errorf("UIDs not mapped consistently: %s %s", got.Study.UID, got.Instance.SOPInstanceUID)
	}
	if got.Instance.SOPClassUID != orig.Instance.SOPClassUID || got.Instance.Rows != orig.Instance.Rows {
		t.Errorf("kept attributes changed: %+v", got.Instance)
	}
	ds, err := dicom.ParseFile(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ds.FindElementByTag(tag.DeidentificationMethodCodeSequence); err != nil || !strings.Contains(e.String(), "113100") {
		t.Errorf("De-identification Method Code Sequence: %v %v", e, err)
	}
	if e, err := ds.FindElementByTag(tag.SourceImageSequence); err != nil || !strings.Contains(e.String(), a.UID("1.2.3.4.5.6.7.8.9.424242")) {
		t.Errorf("nested Referenced SOP Instance UID not replaced: %v %v", e, err)
	}
	for _, w := range dcmcheck.Dciodvfy(t, out) {
		t.Log(w)
	}
	if New("test salt").UID(orig.Study.UID) != got.Study.UID || New("other").UID(orig.Study.UID) == got.Study.UID {
		t.Error("the UID mapping should depend on the salt, and only on it")
	}
}

func TestAnonymizeRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.dcm")
	os.WriteFile(bad, []byte("not dicom"), 0o600)
	if _, err := New("s").Bytes(bad); err == nil || !strings.Contains(err.Error(), "not a DICOM file") {
		t.Fatalf("bad file: %v", err)
	}
	if _, err := New("s").Bytes(filepath.Join(dir, "missing.dcm")); err == nil {
		t.Fatal("missing file: no error")
	}
	// An object without an image (no pixel module, no pixel data: a report, say) is refused, as the viewer refuses it.
	ds, err := dicom.ParseFile(sampleFile(t), nil, dicom.SkipProcessingPixelDataValue())
	if err != nil {
		t.Fatal(err)
	}
	var elems []*dicom.Element
	for _, e := range ds.Elements {
		if e.Tag.Group != tag.MetadataGroup && e.Tag.Group != 0x0028 && e.Tag != tag.PixelData { // no image pixel module
			elems = append(elems, e)
		}
	}
	noImage := filepath.Join(dir, "noimage.dcm")
	if err := dcmwrite.WriteFile(noImage, elems); err != nil {
		t.Fatal(err)
	}
	if _, err := New("s").Bytes(noImage); !errors.Is(err, viewer.ErrNoPixels) {
		t.Fatalf("object without pixel data: %v", err)
	}
}

// FuzzAnonymize: de-identifying arbitrary bytes never panics; whatever it accepts re-encodes and parses.
func FuzzAnonymize(f *testing.F) {
	seed, err := os.ReadFile(sampleFile(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte("DICM"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		elems, err := New("fuzz").ReadAt(bytes.NewReader(data), int64(len(data)), "fuzz.dcm")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, elems); err != nil {
			return
		}
		out := buf.Bytes()
		if _, err := dicom.Parse(bytes.NewReader(out), int64(len(out)), nil, dicom.SkipPixelData()); err != nil {
			t.Fatalf("anonymised output does not parse: %v", err)
		}
	})
}
