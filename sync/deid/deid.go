// Package deid de-identifies DICOM files by the Basic Application Level Confidentiality Profile of DICOM
// PS3.15 (Annex E, Table E.1-1): identifying attributes are removed, emptied or replaced, instance UIDs are
// replaced consistently (every occurrence of a UID in one export gets the same new UID, so series keep
// their study and frame of reference), private attributes, curves and overlay comments are removed, and
// the De-identification Method Code Sequence records what was done.
package deid

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// Method is written to De-identification Method (0012,0063).
const Method = "PS3.15 E.1 Basic Application Confidentiality Profile"

// ErrUnsupported is returned for files the anonymiser cannot rewrite safely (an encoding it does not
// re-encode); the message names the reason.
var ErrUnsupported = errors.New("cannot de-identify")

// Anonymizer de-identifies the files of one export. It is safe for concurrent use.
type Anonymizer struct {
	salt string
	mu   sync.Mutex
	uids map[string]string
	// BurnedIn lists files whose header says identifying text may be burned into the pixels
	// (BurnedInAnnotation YES): the profile cannot clean pixels, a person must check them.
	BurnedIn []string
}

// New returns an Anonymizer whose new UIDs derive from salt and the old UIDs: one salt, the same mapping
// (reproducible exports); a fresh random salt (NewRandom) makes the mapping unlinkable.
func New(salt string) *Anonymizer { return &Anonymizer{salt: salt, uids: map[string]string{}} }

// NewRandom returns an Anonymizer with a random salt.
func NewRandom() *Anonymizer { return New(dicomkit.NewUID()) }

// UID returns the replacement of an original UID.
func (a *Anonymizer) UID(old string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n, ok := a.uids[old]; ok {
		return n
	}
	n := dicomkit.DeterministicUID("neuronova de-identification", a.salt, old)
	a.uids[old] = n
	return n
}

// Mapping returns a copy of the UIDs replaced so far, old to new (keep it secret: it re-identifies).
func (a *Anonymizer) Mapping() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]string, len(a.uids))
	for k, v := range a.uids {
		m[k] = v
	}
	return m
}

// File de-identifies the DICOM file at path and returns the cleaned dataset (without file meta) for
// Encode (see ReadAt).
func (a *Anonymizer) File(path string) ([]*dicom.Element, error) {
	fh, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return a.ReadAt(fh, size, path)
}

// ReadAt de-identifies the size bytes of a DICOM file read from r (name names it in errors). The file is
// read once (readFile), its structure checked first, so broken or hostile files fail with a clear error
// before the library reads them.
//
// Transfer syntaxes. Native and deflated data is re-encoded as explicit VR little endian (big-endian values
// and pixel words byte-swapped, deflated data inflated). Encapsulated pixel data (JPEG, JPEG-LS, JPEG 2000,
// HTJ2K, RLE) needs no change for the profile, which changes no pixel: its fragments pass through byte for
// byte under the file's own transfer syntax, which the de-identified dataset carries in its Transfer Syntax
// UID (0002,0010) for Encode, with its Basic Offset Table (which the DICOM library skips: Walk reads it).
func (a *Anonymizer) ReadAt(r io.ReaderAt, size int64, name string) ([]*dicom.Element, error) {
	ds, lay, err := readFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	elems, err := a.deidentify(ds.Elements, lay.Syntax)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return withOffsetTable(elems, lay.BOT), nil
}

// deidentify applies the profile to the elements of a file (file meta included) of transfer syntax syn.
func (a *Anonymizer) deidentify(elems []*dicom.Element, syn dicomkit.Syntax) ([]*dicom.Element, error) {
	out, err := a.clean(elems, 0)
	if err != nil {
		return nil, err
	}
	if syn.Compressed() {
		var b dcmwrite.Builder
		b.String(tag.TransferSyntaxUID, syn.UID)
		e, err := b.Elements()
		if err != nil {
			return nil, err
		}
		out = append(out, e...)
	}
	for _, e := range out {
		if e.Tag == tag.BurnedInAnnotation && strings.EqualFold(dicomkit.String(e), "YES") {
			a.mu.Lock()
			a.BurnedIn = append(a.BurnedIn, dicomkit.String(dicomkit.Find(out, tag.SOPInstanceUID)))
			a.mu.Unlock()
		}
	}
	var b dcmwrite.Builder
	b.String(tag.PatientIdentityRemoved, "YES")
	b.String(tag.DeidentificationMethod, Method)
	var code dcmwrite.Builder
	code.String(tag.CodeValue, "113100")
	code.String(tag.CodingSchemeDesignator, "DCM")
	code.String(tag.CodeMeaning, "Basic Application Confidentiality Profile")
	item, err := code.Elements()
	if err != nil {
		return nil, err
	}
	b.Sequence(tag.DeidentificationMethodCodeSequence, item)
	b.String(tag.LongitudinalTemporalInformationModified, "REMOVED")
	added, err := b.Elements()
	if err != nil {
		return nil, err
	}
	drop := map[tag.Tag]bool{}
	for _, e := range added {
		drop[e.Tag] = true
	}
	kept := out[:0]
	for _, e := range out {
		if !drop[e.Tag] {
			kept = append(kept, e)
		}
	}
	if dicomkit.Find(kept, tag.SOPInstanceUID) == nil || dicomkit.Find(kept, tag.SOPClassUID) == nil {
		return nil, fmt.Errorf("%w: no SOPClassUID or SOPInstanceUID", ErrUnsupported)
	}
	return append(kept, added...), nil
}

// Encode writes a de-identified dataset as a DICOM file to w: explicit VR little endian, or the transfer
// syntax of its encapsulated pixel data when it carries one in Transfer Syntax UID (0002,0010).
func Encode(w io.Writer, elems []*dicom.Element) error {
	ts := uid.ExplicitVRLittleEndian
	data := make([]*dicom.Element, 0, len(elems))
	for _, e := range elems {
		if e.Tag == tag.TransferSyntaxUID {
			ts = dicomkit.String(e)
			continue
		}
		data = append(data, e)
	}
	return dcmwrite.EncodeSyntax(w, data, ts)
}

// Bytes de-identifies the file at path and returns the new file's bytes.
func (a *Anonymizer) Bytes(path string) ([]byte, error) {
	elems, err := a.File(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := Encode(&buf, elems); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// wellKnownUID reports whether u is a UID the standard defines (SOP classes, transfer syntaxes, coding
// schemes…), which identifies nothing and must be kept.
func wellKnownUID(u string) bool {
	u = dicomkit.Trim(u)
	if strings.HasPrefix(u, "1.2.840.10008.") {
		return true
	}
	_, err := uid.Lookup(u)
	return err == nil
}

// clean applies the profile to one dataset or sequence item.
func (a *Anonymizer) clean(elems []*dicom.Element, depth int) ([]*dicom.Element, error) {
	if depth > 32 {
		return nil, fmt.Errorf("%w: sequences nested more than 32 deep", ErrUnsupported)
	}
	out := make([]*dicom.Element, 0, len(elems))
	for _, e := range elems {
		t := e.Tag
		switch {
		case t.Group == tag.MetadataGroup, t.Element == 0x0000: // file meta (Encode rewrites it), group lengths
			continue
		case t.Group%2 == 1: // private attributes
			continue
		case t.Group >= 0x5000 && t.Group <= 0x50FF: // curves
			continue
		case t.Group >= 0x6000 && t.Group <= 0x60FF && (t.Element == 0x3000 || t.Element == 0x4000): // overlay data, comments
			continue
		}
		act, listed := actionOf(t)
		if !listed {
			switch e.RawValueRepresentation {
			case "PN":
				act = Remove
			case "UI":
				act = NewUID
			default:
				act = Keep
			}
		}
		switch act {
		case Remove:
			continue
		case Empty:
			ne, err := emptyLike(e)
			if err != nil {
				return nil, err
			}
			out = append(out, ne)
		case NewUID:
			ne, err := a.replaceUIDs(e)
			if err != nil {
				return nil, err
			}
			if ne != nil {
				out = append(out, ne)
			}
		default:
			ne, err := a.keep(e, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, ne)
		}
	}
	return out, nil
}

// keep copies an element, cleaning the items of a sequence.
func (a *Anonymizer) keep(e *dicom.Element, depth int) (*dicom.Element, error) {
	if e.Value == nil || e.Value.ValueType() != dicom.Sequences {
		return e, nil
	}
	items := e.Value.GetValue().([]*dicom.SequenceItemValue)
	cleaned := make([][]*dicom.Element, 0, len(items))
	for _, it := range items {
		c, err := a.clean(it.GetValue().([]*dicom.Element), depth+1)
		if err != nil {
			return nil, err
		}
		cleaned = append(cleaned, c)
	}
	v, err := dicom.NewValue(cleaned)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tag.DebugString(e.Tag), err)
	}
	return &dicom.Element{Tag: e.Tag, ValueRepresentation: e.ValueRepresentation, RawValueRepresentation: e.RawValueRepresentation, Value: v}, nil
}

// emptyLike returns e with a zero-length value of the same kind.
func emptyLike(e *dicom.Element) (*dicom.Element, error) {
	var data any = []string{}
	if e.Value != nil {
		switch e.Value.ValueType() {
		case dicom.Sequences:
			data = [][]*dicom.Element{}
		case dicom.Bytes:
			data = []byte{}
		case dicom.Ints:
			data = []int{}
		case dicom.Floats:
			data = []float64{}
		}
	}
	v, err := dicom.NewValue(data)
	if err != nil {
		return nil, err
	}
	return &dicom.Element{Tag: e.Tag, ValueRepresentation: e.ValueRepresentation, RawValueRepresentation: e.RawValueRepresentation, Value: v}, nil
}

// replaceUIDs maps every non-standard UID value of e; a UID element that is not a string is removed.
func (a *Anonymizer) replaceUIDs(e *dicom.Element) (*dicom.Element, error) {
	if e.Value == nil || e.Value.ValueType() != dicom.Strings {
		return nil, nil
	}
	old := e.Value.GetValue().([]string)
	vals := make([]string, len(old))
	for i, u := range old {
		u = dicomkit.Trim(u)
		switch {
		case u == "":
			vals[i] = ""
		case wellKnownUID(u):
			vals[i] = u
		default:
			vals[i] = a.UID(u)
		}
	}
	v, err := dicom.NewValue(vals)
	if err != nil {
		return nil, err
	}
	return &dicom.Element{Tag: e.Tag, ValueRepresentation: e.ValueRepresentation, RawValueRepresentation: e.RawValueRepresentation, Value: v}, nil
}
