package testsvc

import (
	"bytes"
	"encoding/binary"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// SEG describes the header of a small DICOM Segmentation for tests of what servers read of an upload: a
// model's SEG, or an edit of one (Derivation Description, Source Image Sequence naming the parent SEG). It
// has no segments or frames; Orthanc stores and indexes it like any instance.
type SEG struct {
	PatientID, PatientName      string
	StudyUID, SeriesUID, SOPUID string
	Accession                   string
	Derivation                  string // Derivation Description; "" writes none
	Parent                      string // SOP Instance UID of the SEG edited; "" writes no Source Image Sequence
	Implicit                    bool
}

// SEGFile encodes s as a DICOM Part 10 file in explicit (or implicit) VR little endian.
func SEGFile(s SEG) []byte {
	transferSyntax := "1.2.840.10008.1.2.1"
	if s.Implicit {
		transferSyntax = "1.2.840.10008.1.2"
	}
	ds := []element{
		{0x0008, 0x0016, "UI", uid(dicomkit.SegmentationStorage)},
		{0x0008, 0x0018, "UI", uid(s.SOPUID)},
		{0x0008, 0x0020, "DA", text("20240101")},
		{0x0008, 0x0050, "SH", text(s.Accession)},
		{0x0008, 0x0060, "CS", text("SEG")},
		{0x0010, 0x0010, "PN", text(s.PatientName)},
		{0x0010, 0x0020, "LO", text(s.PatientID)},
		{0x0020, 0x000D, "UI", uid(s.StudyUID)},
		{0x0020, 0x000E, "UI", uid(s.SeriesUID)},
		{0x0020, 0x0013, "IS", text("1")},
	}
	if s.Derivation != "" {
		ds = append(ds, element{0x0008, 0x2111, "ST", text(s.Derivation)})
	}
	if s.Parent != "" {
		var item bytes.Buffer
		writeElements(&item, []element{
			{0x0008, 0x1150, "UI", uid(dicomkit.SegmentationStorage)},
			{0x0008, 0x1155, "UI", uid(s.Parent)},
		}, s.Implicit)
		var seq bytes.Buffer
		binary.Write(&seq, binary.LittleEndian, [2]uint16{0xFFFE, 0xE000})
		binary.Write(&seq, binary.LittleEndian, uint32(item.Len()))
		seq.Write(item.Bytes())
		ds = append(ds, element{0x0008, 0x2112, "SQ", seq.Bytes()})
	}
	var body bytes.Buffer
	writeElements(&body, ds, s.Implicit)
	meta := []element{
		{0x0002, 0x0001, "OB", []byte{0, 1}},
		{0x0002, 0x0002, "UI", uid(dicomkit.SegmentationStorage)},
		{0x0002, 0x0003, "UI", uid(s.SOPUID)},
		{0x0002, 0x0010, "UI", uid(transferSyntax)},
		{0x0002, 0x0012, "UI", uid("1.2.826.0.1.3680043.10.1083.1")},
	}
	var metaBody bytes.Buffer
	writeElements(&metaBody, meta, false)
	var out bytes.Buffer
	out.Write(make([]byte, 128))
	out.WriteString("DICM")
	writeElements(&out, []element{{0x0002, 0x0000, "UL", u32(metaBody.Len())}}, false)
	out.Write(metaBody.Bytes())
	out.Write(body.Bytes())
	return out.Bytes()
}
