package dcmwrite

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/frame"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// ErrInvalidValue is returned for a value that its element's VR cannot hold (too long, wrong characters,
// not finite); the error names the element.
var ErrInvalidValue = errors.New("dcmwrite: invalid value")

// maxLen is the longest value each string VR allows (PS3.5 6.2), in characters.
var maxLen = map[string]int{
	"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64, "PN": 64 * 3,
	"SH": 16, "ST": 1024, "TM": 14, "UI": 64, "LT": 10240,
}

// Builder collects data elements. Each method checks its value against the element's VR; the first
// problem is kept and returned by Elements, so a dataset can be built without checking every call.
type Builder struct {
	elems []*dicom.Element
	err   error
}

func (b *Builder) fail(t tag.Tag, format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("%w: %s: %s", ErrInvalidValue, tag.DebugString(t), fmt.Sprintf(format, args...))
	}
}

func (b *Builder) add(t tag.Tag, data any) {
	e, err := dicom.NewElement(t, data)
	if err != nil {
		b.fail(t, "%v", err)
		return
	}
	b.elems = append(b.elems, e)
}

func vrOf(t tag.Tag) string {
	info, err := tag.Find(t)
	if err != nil || len(info.VRs) == 0 {
		return ""
	}
	return info.VRs[0]
}

// String adds a string-valued element (AE, AS, CS, DA, DS, DT, IS, LO, LT, PN, SH, ST, TM, UI, UT); no
// values makes an empty (type 2) element. Lengths and CS characters are checked.
func (b *Builder) String(t tag.Tag, values ...string) {
	vr := vrOf(t)
	for _, v := range values {
		if n, ok := maxLen[vr]; ok && len(v) > n {
			b.fail(t, "%q is longer than the %d characters of VR %s", v, n, vr)
			return
		}
		if strings.ContainsRune(v, '\\') && vr != "LT" && vr != "ST" && vr != "UT" {
			b.fail(t, "%q contains a backslash, the value separator", v)
			return
		}
		if vr == "CS" && strings.TrimLeft(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _") != "" {
			b.fail(t, "%q has characters a CS value cannot hold (upper case, digits, space, underscore)", v)
			return
		}
		if vr == "UI" && !dicomkit.ValidUID(v) {
			b.fail(t, "%q is not a UID", v)
			return
		}
	}
	if values == nil {
		values = []string{}
	}
	b.add(t, values)
}

// Decimal adds a DS element: each value in the shortest form that fits 16 characters.
func (b *Builder) Decimal(t tag.Tag, values ...float64) {
	s := make([]string, len(values))
	for i, v := range values {
		f, err := FormatDS(v)
		if err != nil {
			b.fail(t, "%v", err)
			return
		}
		s[i] = f
	}
	b.String(t, s...)
}

// Integer adds an IS element.
func (b *Builder) Integer(t tag.Tag, values ...int) {
	s := make([]string, len(values))
	for i, v := range values {
		if v < math.MinInt32 || v > math.MaxInt32 {
			b.fail(t, "%d is outside the range of IS", v)
			return
		}
		s[i] = strconv.Itoa(v)
	}
	b.String(t, s...)
}

// Ints adds a binary integer element (US, SS, UL, SL, AT).
func (b *Builder) Ints(t tag.Tag, values ...int) { b.add(t, values) }

// Floats adds a binary floating-point element (FL, FD).
func (b *Builder) Floats(t tag.Tag, values ...float64) { b.add(t, values) }

// Bytes adds an OB or OW element.
func (b *Builder) Bytes(t tag.Tag, data []byte) { b.add(t, data) }

// Sequence adds an SQ element with one item per element list.
func (b *Builder) Sequence(t tag.Tag, items ...[]*dicom.Element) { b.add(t, items) }

// NativePixels adds Pixel Data holding raw little-endian bytes, already laid out as the Image Pixel
// module's attributes say.
func (b *Builder) NativePixels(data []byte) {
	b.add(tag.PixelData, dicom.PixelDataInfo{IntentionallyUnprocessed: true, UnprocessedValueData: data})
}

// EncapsulatedPixels adds Pixel Data in encapsulated form (PS3.5 A.4): an empty Basic Offset Table, then one
// fragment per frame. The file must be encoded with EncodeSyntax and the frames' transfer syntax.
func (b *Builder) EncapsulatedPixels(frames ...[]byte) { b.Add(EncapsulatedPixelData(nil, frames...)) }

// EncapsulatedPixelData returns a Pixel Data element with these fragments and Basic Offset Table.
func EncapsulatedPixelData(offsets []uint32, fragments ...[]byte) *dicom.Element {
	info := dicom.PixelDataInfo{IsEncapsulated: true, Offsets: offsets}
	for _, f := range fragments {
		info.Frames = append(info.Frames, &frame.Frame{Encapsulated: true, EncapsulatedData: frame.EncapsulatedFrame{Data: f}})
	}
	v, _ := dicom.NewValue(info)
	return &dicom.Element{Tag: tag.PixelData, ValueRepresentation: tag.VRPixelData, RawValueRepresentation: "OB",
		ValueLength: tag.VLUndefinedLength, Value: v}
}

// Add appends elements built elsewhere.
func (b *Builder) Add(e ...*dicom.Element) { b.elems = append(b.elems, e...) }

// Elements returns the elements added so far, or the first error.
func (b *Builder) Elements() ([]*dicom.Element, error) { return b.elems, b.err }

// FormatDS formats v as a Decimal String: the shortest form that reads back as v, else the closest form
// of at most 16 characters.
func FormatDS(v float64) (string, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "", fmt.Errorf("%w: %v is not a decimal number", ErrInvalidValue, v)
	}
	if v == 0 {
		return "0", nil
	}
	for prec := -1; prec != 0; {
		s := strconv.FormatFloat(v, 'g', prec, 64)
		if len(s) <= 16 {
			return s, nil
		}
		if prec == -1 {
			prec = 16
		}
		prec--
	}
	return "", fmt.Errorf("%w: %v does not fit a Decimal String", ErrInvalidValue, v)
}

// parseDS reads back a value FormatDS wrote.
func parseDS(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

// isASCII reports whether every string value of the elements is 7-bit: otherwise the dataset needs
// Specific Character Set ISO_IR 192 (UTF-8).
func isASCII(elems []*dicom.Element) bool {
	for _, e := range elems {
		if e.Value == nil || e.Value.ValueType() != dicom.Strings {
			continue
		}
		for _, s := range e.Value.GetValue().([]string) {
			for i := 0; i < len(s); i++ {
				if s[i] >= 0x80 {
					return false
				}
			}
		}
	}
	return true
}

// sortElements orders elements by tag, items of sequences included, as PS3.5 7.1 requires and
// dicom.Write does not do. It sorts in place.
func sortElements(elems []*dicom.Element) {
	slices.SortStableFunc(elems, func(a, b *dicom.Element) int { return a.Tag.Compare(b.Tag) })
	for _, e := range elems {
		if e.Value != nil && e.Value.ValueType() == dicom.Sequences {
			for _, item := range e.Value.GetValue().([]*dicom.SequenceItemValue) {
				sortElements(item.GetValue().([]*dicom.Element))
			}
		}
	}
}

// Encode writes a DICOM Part 10 file: the file meta group (SOP class and instance from the dataset's
// (0008,0016) and (0008,0018), explicit VR little endian, this package's implementation UID and name)
// followed by elems in tag order. Specific Character Set ISO_IR 192 is added when a string is not ASCII
// and elems do not set one. The elems slice keeps its order; the items of its sequences are sorted in place.
func Encode(w io.Writer, elems []*dicom.Element) error {
	return EncodeSyntax(w, elems, uid.ExplicitVRLittleEndian)
}

// EncodeSyntax is Encode with another transfer syntax in the file meta: an encapsulated one (JPEG, JPEG-LS,
// JPEG 2000, HTJ2K, RLE), whose dataset is explicit VR little endian like Encode's and whose Pixel Data
// must already be encapsulated in it.
func EncodeSyntax(w io.Writer, elems []*dicom.Element, transferSyntax string) error {
	if transferSyntax != uid.ExplicitVRLittleEndian && !compressed(transferSyntax) {
		return fmt.Errorf("dcmwrite: transfer syntax %s: only explicit VR little endian and encapsulated syntaxes are written", transferSyntax)
	}
	var classUID, instanceUID string
	hasCharset := false
	for _, e := range elems {
		switch e.Tag {
		case tag.SOPClassUID:
			classUID = dicomkit.String(e)
		case tag.SOPInstanceUID:
			instanceUID = dicomkit.String(e)
		case tag.SpecificCharacterSet:
			hasCharset = true
		}
		if e.Tag.Group == tag.MetadataGroup {
			return fmt.Errorf("dcmwrite: %s: the file meta group is written by Encode", tag.DebugString(e.Tag))
		}
	}
	if classUID == "" || instanceUID == "" {
		return fmt.Errorf("dcmwrite: dataset lacks SOPClassUID or SOPInstanceUID")
	}
	var b Builder
	b.Bytes(tag.FileMetaInformationVersion, []byte{0, 1})
	b.String(tag.MediaStorageSOPClassUID, classUID)
	b.String(tag.MediaStorageSOPInstanceUID, instanceUID)
	b.String(tag.TransferSyntaxUID, transferSyntax)
	b.String(tag.ImplementationClassUID, ImplementationClassUID)
	b.String(tag.ImplementationVersionName, ImplementationVersionName)
	meta, err := b.Elements()
	if err != nil {
		return err
	}
	var data []*dicom.Element
	if !hasCharset && !isASCII(elems) {
		var cs Builder
		cs.String(tag.SpecificCharacterSet, "ISO_IR 192")
		data, _ = cs.Elements()
	}
	data = append(data, elems...)
	sortElements(data)
	for i := 1; i < len(data); i++ {
		if data[i].Tag == data[i-1].Tag {
			return fmt.Errorf("dcmwrite: %s appears twice", tag.DebugString(data[i].Tag))
		}
	}
	return writePart10(w, meta, data)
}

// writePart10 writes the preamble, "DICM", the file meta group with its group length, and the dataset, all
// explicit VR little endian. (dicom.Write refuses transfer syntaxes newer than its dictionary, HTJ2K's.)
func writePart10(w io.Writer, meta, data []*dicom.Element) error {
	var mb bytes.Buffer
	mw, err := dicom.NewWriter(&mb)
	if err != nil {
		return err
	}
	mw.SetTransferSyntax(binary.LittleEndian, false)
	for _, e := range meta {
		if err := mw.WriteElement(e); err != nil {
			return err
		}
	}
	length, err := dicom.NewElement(tag.FileMetaInformationGroupLength, []int{mb.Len()})
	if err != nil {
		return err
	}
	var head bytes.Buffer
	head.Write(make([]byte, 128))
	head.WriteString("DICM")
	hw, err := dicom.NewWriter(&head)
	if err != nil {
		return err
	}
	hw.SetTransferSyntax(binary.LittleEndian, false)
	if err := hw.WriteElement(length); err != nil {
		return err
	}
	head.Write(mb.Bytes())
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	dw, err := dicom.NewWriter(w)
	if err != nil {
		return err
	}
	dw.SetTransferSyntax(binary.LittleEndian, false)
	for _, e := range data {
		if err := dw.WriteElement(e); err != nil {
			return fmt.Errorf("dcmwrite: %s: %w", tag.DebugString(e.Tag), err)
		}
	}
	return nil
}

// WriteFile encodes elems (see Encode) to path. A failed write removes the partial file.
func WriteFile(path string, elems []*dicom.Element) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = Encode(bw, elems); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// compressed reports the transfer syntaxes whose pixel data is encapsulated in an explicit VR little endian
// dataset: every known one but the four native ones.
func compressed(ts string) bool {
	s, err := dicomkit.LookupSyntax(ts)
	return err == nil && s.Compressed()
}
