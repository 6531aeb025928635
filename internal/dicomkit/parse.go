package dicomkit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// Option adjusts Parse.
type Option func(*parseConfig)

type parseConfig struct {
	pixelBytes bool
	implicit   bool
	until      tag.Tag
}

// WithPixelBytes keeps the pixel data as the file stores it, unprocessed: native bytes, or encapsulated
// fragments. Without it Parse skips pixel data.
func WithPixelBytes() Option { return func(c *parseConfig) { c.pixelBytes = true } }

// WithImplicitVR reads the dataset as implicit VR, in the byte order of its syntax, whatever its file meta
// says of the VR: a writer's mistake Walk detects (Layout.ForceImplicit), and reads so too.
func WithImplicitVR() Option { return func(c *parseConfig) { c.implicit = true } }

// Until stops after the first top-level element at or past t.
func Until(t tag.Tag) Option { return func(c *parseConfig) { c.until = t } }

// Parse reads a Part 10 stream of size bytes with the DICOM library and returns its elements, the file meta
// first. The dataset is read by the transfer syntax of the file meta; an encapsulated one as explicit VR
// little endian, which it is, since the library fails on syntaxes its dictionary lacks (HTJ2K). The stream
// ends at size bytes or at the end of r. A panic of the library is returned as an error. Parse does not
// guard against declared lengths: run Walk first on bytes from elsewhere (ParseHeader does).
func Parse(r io.Reader, size int64, opts ...Option) (ds dicom.Dataset, err error) {
	var cfg parseConfig
	for _, o := range opts {
		o(&cfg)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("DICOM parser panicked: %v", p)
		}
	}()
	libOpts := []dicom.ParseOption{dicom.AllowMissingMetaElementGroupLength(), dicom.AllowUnknownSpecificCharacterSet(), dicom.SkipPixelData()}
	if cfg.pixelBytes {
		libOpts[2] = dicom.SkipProcessingPixelDataValue()
	}
	p, err := dicom.NewParser(r, size, nil, libOpts...)
	if err != nil {
		return ds, fmt.Errorf("parse: %w", err)
	}
	meta := p.GetMetadata()
	// The dataset is read as Walk read it, by our reading of the syntax, not the library's: the library takes
	// a UID padded with a space for another syntax, and read a dataset Walk forced to implicit VR in another
	// byte order than Walk had checked.
	s, serr := LookupSyntax(Text(&meta, tag.TransferSyntaxUID))
	var bo binary.ByteOrder = binary.LittleEndian
	if serr == nil && s.BigEndian {
		bo = binary.BigEndian
	}
	if cfg.implicit {
		p.SetTransferSyntax(bo, true)
	} else if serr == nil {
		p.SetTransferSyntax(bo, s.Implicit)
	}
	ds.Elements = append(ds.Elements, meta.Elements...)
	for {
		e, err := p.Next()
		if err != nil {
			if errors.Is(err, dicom.ErrorEndOfDICOM) || errors.Is(err, io.EOF) {
				return ds, nil
			}
			return ds, fmt.Errorf("parse: %w", err)
		}
		ds.Elements = append(ds.Elements, e)
		if cfg.until != (tag.Tag{}) && (e.Tag.Group > cfg.until.Group || e.Tag.Group == cfg.until.Group && e.Tag.Element >= cfg.until.Element) {
			return ds, nil
		}
	}
}

// MaxInflated is the most a deflated dataset may inflate to in ParseHeader.
const MaxInflated int64 = 4 << 30

// ParseHeader parses the size bytes of a Part 10 DICOM object read from r without its pixel data, after
// Walk has checked its structure.
func ParseHeader(r io.ReaderAt, size int64) (dicom.Dataset, error) {
	lay, err := Walk(r, size, MaxInflated)
	if err != nil {
		return dicom.Dataset{}, fmt.Errorf("not a readable DICOM object: %w", err)
	}
	end := size
	if lay.PixelAt > 0 {
		end = lay.PixelAt // the library would read the pixel data to skip it
	}
	var opts []Option
	if lay.ForceImplicit {
		opts = append(opts, WithImplicitVR())
	}
	ds, err := Parse(io.NewSectionReader(r, 0, end), end, opts...)
	if err != nil {
		return ds, fmt.Errorf("not a readable DICOM object: %w", err)
	}
	return ds, nil
}

// SegmentationStorage is the SOP Class UID of a DICOM Segmentation (SEG).
const SegmentationStorage = "1.2.840.10008.5.1.4.1.1.66.4"

// Identity is who and what a DICOM instance is.
type Identity struct {
	PatientID, StudyUID, SeriesUID, SOPUID string
	SOPClassUID, Accession                 string
	// SEGEdit: a SEG that is an edit of another label map: it has a Derivation Description, or a Source Image
	// Sequence naming a SEG (ParentSEG, that SEG's SOP Instance UID).
	SEGEdit   bool
	ParentSEG string
}

// IdentityOf reads the identity of a parsed instance; every UID must be present.
func IdentityOf(ds *dicom.Dataset) (Identity, error) {
	id := Identity{PatientID: Text(ds, tag.PatientID), StudyUID: Text(ds, tag.StudyInstanceUID),
		SeriesUID: Text(ds, tag.SeriesInstanceUID), SOPUID: Text(ds, tag.SOPInstanceUID),
		SOPClassUID: Text(ds, tag.SOPClassUID), Accession: Text(ds, tag.AccessionNumber)}
	if id.SOPClassUID == SegmentationStorage {
		id.SEGEdit, id.ParentSEG = segDerivation(ds.Elements)
	}
	var missing []string
	for _, f := range []struct{ v, name string }{{id.StudyUID, "StudyInstanceUID"}, {id.SeriesUID, "SeriesInstanceUID"}, {id.SOPUID, "SOPInstanceUID"}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return id, fmt.Errorf("DICOM object lacks %s", strings.Join(missing, ", "))
	}
	return id, nil
}

// segDerivation reports whether a SEG's elements make it an edit, and the SEG its Source Image Sequence names.
func segDerivation(els []*dicom.Element) (edit bool, parent string) {
	for _, it := range Items(Find(els, tag.SourceImageSequence)) {
		if String(Find(it, tag.ReferencedSOPClassUID)) == SegmentationStorage {
			if uid := String(Find(it, tag.ReferencedSOPInstanceUID)); uid != "" {
				return true, uid
			}
		}
	}
	return Find(els, tag.DerivationDescription) != nil, ""
}

// MaxIdentityBytes bounds how much of an object ReadIdentity reads: the identity is in its first elements.
const MaxIdentityBytes = 4 << 20

// ReadIdentity reads the identity of a Part 10 object from its start, reading at most MaxIdentityBytes: the
// elements up to SeriesInstanceUID (the SOP class, accession and a SEG's derivation, group 0008, come
// before it), never the pixel data. Walk checks them before the library reads them.
func ReadIdentity(r io.Reader) (id Identity, err error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxIdentityBytes))
	if err != nil {
		return id, err
	}
	if !IsPart10(b) {
		return id, ErrNotPart10
	}
	lay, err := walk(bytes.NewReader(b), int64(len(b)), MaxIdentityBytes, tag.SeriesInstanceUID, nil)
	if err != nil {
		return id, fmt.Errorf("not a readable DICOM object: %w", err)
	}
	opts := []Option{Until(tag.SeriesInstanceUID)}
	if lay.ForceImplicit {
		opts = append(opts, WithImplicitVR())
	}
	ds, err := Parse(bytes.NewReader(b), int64(len(b)), opts...)
	if err != nil {
		return id, fmt.Errorf("not a readable DICOM object: %w", err)
	}
	return IdentityOf(&ds)
}
