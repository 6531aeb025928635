// Package dicomkit is the small shared layer over github.com/suyashkumar/dicom: a header parse that turns the
// library's panics into errors, and the accessors the server and the sync engine read identities with. It
// imports nothing of NeuroNova.
package dicomkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// ErrNotPart10 is returned for input that does not start with a DICOM Part 10 preamble and "DICM".
var ErrNotPart10 = errors.New("not a DICOM Part 10 file (no \"DICM\" after the 128-byte preamble)")

// IsPart10 reports whether b starts like a DICOM Part 10 file.
func IsPart10(b []byte) bool { return len(b) >= 132 && bytes.Equal(b[128:132], []byte("DICM")) }

// ParseHeader parses a Part 10 DICOM object of size bytes without keeping its pixel data. A panic of the
// library is returned as an error.
func ParseHeader(r io.Reader, size int64) (ds dicom.Dataset, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("DICOM parser panicked: %v", p)
		}
	}()
	ds, err = dicom.Parse(r, size, nil, dicom.SkipPixelData(), dicom.AllowMissingMetaElementGroupLength(),
		dicom.AllowUnknownSpecificCharacterSet())
	if err != nil {
		return ds, fmt.Errorf("not a readable DICOM object: %w", err)
	}
	return ds, nil
}

// Text returns the first value of a text element, without DICOM's padding (trailing spaces and NULs), or "".
func Text(ds *dicom.Dataset, t tag.Tag) string {
	e, err := ds.FindElementByTag(t)
	if err != nil || e.Value == nil {
		return ""
	}
	v, ok := e.Value.GetValue().([]string)
	if !ok || len(v) == 0 {
		return ""
	}
	return strings.TrimRight(v[0], " \x00")
}

// Identity is who and what a DICOM instance is.
type Identity struct {
	PatientID, StudyUID, SeriesUID, SOPUID string
}

// IdentityOf reads the identity of a parsed instance; every UID must be present.
func IdentityOf(ds *dicom.Dataset) (Identity, error) {
	id := Identity{PatientID: Text(ds, tag.PatientID), StudyUID: Text(ds, tag.StudyInstanceUID),
		SeriesUID: Text(ds, tag.SeriesInstanceUID), SOPUID: Text(ds, tag.SOPInstanceUID)}
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

// MaxIdentityBytes bounds how much of an object ReadIdentity reads: the identity is in its first elements.
const MaxIdentityBytes = 4 << 20

// ReadIdentity reads the identity of a Part 10 object from its start, reading at most MaxIdentityBytes: the
// elements up to SeriesInstanceUID, never the pixel data.
func ReadIdentity(r io.Reader) (id Identity, err error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxIdentityBytes))
	if err != nil {
		return id, err
	}
	if !IsPart10(b) {
		return id, ErrNotPart10
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("DICOM parser panicked: %v", p)
		}
	}()
	p, err := dicom.NewParser(bytes.NewReader(b), int64(len(b)), nil, dicom.SkipPixelData(),
		dicom.AllowMissingMetaElementGroupLength(), dicom.AllowUnknownSpecificCharacterSet())
	if err != nil {
		return id, fmt.Errorf("not a readable DICOM object: %w", err)
	}
	var ds dicom.Dataset
	last := tag.SeriesInstanceUID
	for {
		e, err := p.Next()
		if err != nil {
			if errors.Is(err, dicom.ErrorEndOfDICOM) || errors.Is(err, io.EOF) {
				break
			}
			return id, fmt.Errorf("not a readable DICOM object: %w", err)
		}
		ds.Elements = append(ds.Elements, e)
		if e.Tag.Group > last.Group || (e.Tag.Group == last.Group && e.Tag.Element >= last.Element) {
			break
		}
	}
	return IdentityOf(&ds)
}
