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
	return part10(dicomkit.SegmentationStorage, s.SOPUID, ds, s.Implicit)
}
