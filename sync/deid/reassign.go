package deid

import (
	"bytes"
	"fmt"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// Owner is who a study's images belong to in the hospital: the registered patient (PatientID is the
// patient's number, which the server's image rules go by) and the order they were made for
// (AccessionNumber).
type Owner struct {
	PatientID, PatientName, AccessionNumber string
}

// Reassign returns the DICOM file at path given to owner — an imported study (scanner output, a CD from
// elsewhere) attached to an order: Patient ID (0010,0020), Patient's Name (0010,0010) and Accession Number
// (0008,0050) replaced, every other attribute kept (the UIDs too). It reads and writes as de-identification
// does: encapsulated pixel data byte for byte under its own transfer syntax, other data as explicit VR little
// endian.
func Reassign(path string, owner Owner) ([]byte, error) {
	fh, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	ds, lay, err := readFile(fh, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	elems, err := reassign(ds.Elements, lay.Syntax, owner)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, withOffsetTable(elems, lay.BOT)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// reassign is Reassign on the elements of a file (file meta included) of transfer syntax syn.
func reassign(elems []*dicom.Element, syn dicomkit.Syntax, owner Owner) ([]*dicom.Element, error) {
	var b dcmwrite.Builder
	b.String(tag.PatientID, owner.PatientID)
	b.String(tag.PatientName, owner.PatientName)
	b.String(tag.AccessionNumber, owner.AccessionNumber)
	if syn.Compressed() {
		b.String(tag.TransferSyntaxUID, syn.UID) // read by Encode: the file keeps its encapsulated syntax
	}
	set, err := b.Elements()
	if err != nil {
		return nil, err
	}
	replaced := map[tag.Tag]bool{}
	for _, e := range set {
		replaced[e.Tag] = true
	}
	out := make([]*dicom.Element, 0, len(elems)+len(set))
	for _, e := range elems {
		// The file meta is written anew by Encode; group lengths would be wrong once a value changes.
		if e.Tag.Group == tag.MetadataGroup || e.Tag.Element == 0x0000 || replaced[e.Tag] {
			continue
		}
		out = append(out, e)
	}
	return append(out, set...), nil
}
