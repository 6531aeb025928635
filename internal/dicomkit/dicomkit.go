// Package dicomkit is the one shared layer over github.com/suyashkumar/dicom: the structure check that runs
// before the library reads bytes from elsewhere (ReadMeta, Walk), the guarded parse that turns the library's
// panics into errors (Parse, ParseHeader, ReadIdentity), element accessors with one trimming rule (String,
// Text, Floats, Int, Items), the transfer syntax table (LookupSyntax) and UIDs (ValidUID, NewUID,
// DeterministicUID). It imports only the DICOM library and the standard library.
package dicomkit

import (
	"bytes"
	"errors"
)

var (
	// ErrNotDICOM is returned for bytes that are not a DICOM Part 10 file (no "DICM" prefix at byte 128) or
	// whose file meta information is malformed.
	ErrNotDICOM = errors.New("not a DICOM file")
	// ErrNotPart10 is returned by ReadIdentity for input that does not start with a 128-byte preamble and
	// "DICM" (a ZIP, a dataset without file meta…).
	ErrNotPart10 = errors.New("not a DICOM Part 10 file (no \"DICM\" after the 128-byte preamble)")
	// ErrTruncated is returned when a file ends before the data its header declares.
	ErrTruncated = errors.New("DICOM data truncated")
	// ErrUnsupportedTransferSyntax is returned for an empty or unknown transfer syntax UID; the viewer also
	// returns it for pixel data no decoder of the build handles. The message names the syntax and its UID.
	ErrUnsupportedTransferSyntax = errors.New("unsupported transfer syntax")
	// ErrDICOMDIR is returned by Walk for a DICOMDIR (media storage directory), which lists files and holds
	// no image.
	ErrDICOMDIR = errors.New("a DICOMDIR (media storage directory) lists files and holds no image")
)

// DICOMDIRClass is the SOP Class UID of a DICOMDIR (Media Storage Directory Storage).
const DICOMDIRClass = "1.2.840.10008.1.3.10"

// IsPart10 reports whether b starts like a DICOM Part 10 file: a 128-byte preamble and "DICM".
func IsPart10(b []byte) bool { return len(b) >= 132 && bytes.Equal(b[128:132], []byte("DICM")) }
