package testsvc

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strconv"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// Instance describes a small DICOM MR image for tests: enough for Orthanc and DICOMweb to index and serve it.
type Instance struct {
	PatientID, PatientName      string
	StudyUID, SeriesUID, SOPUID string
	SeriesDescription           string
	InstanceNumber              int
	Rows, Columns               int  // default 16 × 16
	Implicit                    bool // implicit VR little endian instead of explicit
}

// DICOM encodes inst as a DICOM Part 10 file in explicit (or implicit) VR little endian, with a gradient as
// 16-bit pixels.
func DICOM(inst Instance) []byte {
	if inst.Rows == 0 {
		inst.Rows = 16
	}
	if inst.Columns == 0 {
		inst.Columns = 16
	}
	if inst.InstanceNumber == 0 {
		inst.InstanceNumber = 1
	}
	const mrImageStorage = "1.2.840.10008.5.1.4.1.1.4"
	pixels := make([]byte, 2*inst.Rows*inst.Columns)
	for i := range inst.Rows * inst.Columns {
		binary.LittleEndian.PutUint16(pixels[2*i:], uint16(i*7%4096))
	}
	ds := []element{
		{0x0008, 0x0016, "UI", uid(mrImageStorage)},
		{0x0008, 0x0018, "UI", uid(inst.SOPUID)},
		{0x0008, 0x0020, "DA", text("20240101")},
		{0x0008, 0x0060, "CS", text("MR")},
		{0x0008, 0x103E, "LO", text(inst.SeriesDescription)},
		{0x0010, 0x0010, "PN", text(inst.PatientName)},
		{0x0010, 0x0020, "LO", text(inst.PatientID)},
		{0x0020, 0x000D, "UI", uid(inst.StudyUID)},
		{0x0020, 0x000E, "UI", uid(inst.SeriesUID)},
		{0x0020, 0x0013, "IS", text(itoa(inst.InstanceNumber))},
		{0x0028, 0x0002, "US", u16(1)},
		{0x0028, 0x0004, "CS", text("MONOCHROME2")},
		{0x0028, 0x0010, "US", u16(inst.Rows)},
		{0x0028, 0x0011, "US", u16(inst.Columns)},
		{0x0028, 0x0100, "US", u16(16)},
		{0x0028, 0x0101, "US", u16(12)},
		{0x0028, 0x0102, "US", u16(11)},
		{0x0028, 0x0103, "US", u16(0)},
		{0x7FE0, 0x0010, "OW", pixels},
	}
	return part10(mrImageStorage, inst.SOPUID, ds, inst.Implicit)
}

// part10 encodes a dataset as a Part 10 file: preamble, file meta, then ds in explicit (or implicit) VR
// little endian.
func part10(sopClass, sopUID string, ds []element, implicit bool) []byte {
	transferSyntax := "1.2.840.10008.1.2.1"
	if implicit {
		transferSyntax = "1.2.840.10008.1.2"
	}
	var body bytes.Buffer
	writeElements(&body, ds, implicit)
	meta := []element{
		{0x0002, 0x0001, "OB", []byte{0, 1}},
		{0x0002, 0x0002, "UI", uid(sopClass)},
		{0x0002, 0x0003, "UI", uid(sopUID)},
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

type element struct {
	group, elem uint16
	vr          string
	value       []byte
}

func writeElements(w *bytes.Buffer, els []element, implicit bool) {
	sort.Slice(els, func(i, j int) bool {
		return uint32(els[i].group)<<16|uint32(els[i].elem) < uint32(els[j].group)<<16|uint32(els[j].elem)
	})
	for _, e := range els {
		binary.Write(w, binary.LittleEndian, e.group)
		binary.Write(w, binary.LittleEndian, e.elem)
		if implicit {
			binary.Write(w, binary.LittleEndian, uint32(len(e.value)))
			w.Write(e.value)
			continue
		}
		w.WriteString(e.vr)
		switch e.vr {
		case "OB", "OW", "SQ", "UN", "UT":
			w.Write([]byte{0, 0})
			binary.Write(w, binary.LittleEndian, uint32(len(e.value)))
		default:
			binary.Write(w, binary.LittleEndian, uint16(len(e.value)))
		}
		w.Write(e.value)
	}
}

// text pads a string value to even length with a space.
func text(s string) []byte {
	if len(s)%2 == 1 {
		s += " "
	}
	return []byte(s)
}

// uid pads a UID to even length with a NUL.
func uid(s string) []byte {
	b := []byte(s)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func u16(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
func u32(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

func itoa(n int) string { return strconv.Itoa(n) }

// NewUID returns a random DICOM UID under the 2.25 (UUID) root: dicomkit.NewUID.
func NewUID() string { return dicomkit.NewUID() }
