package deid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// parse reads a Part 10 stream with the DICOM library and returns its elements (file meta included) and
// transfer syntax. Pixel data is kept as read: native bytes, or encapsulated fragments.
func parse(r io.Reader, size int64) (dicom.Dataset, string, error) {
	var ds dicom.Dataset
	p, err := dicom.NewParser(r, size, nil, dicom.SkipProcessingPixelDataValue(), dicom.AllowMissingMetaElementGroupLength(), dicom.AllowUnknownSpecificCharacterSet())
	if err != nil {
		return ds, "", fmt.Errorf("parse: %w", err)
	}
	meta := p.GetMetadata()
	var ts string
	if e, err := meta.FindElementByTag(tag.TransferSyntaxUID); err == nil {
		ts = strings.TrimRight(firstString(e), " \x00")
	}
	if ts == "" {
		return ds, "", fmt.Errorf("%w: the file meta information has no transfer syntax", ErrUnsupported)
	}
	if !reencoded(ts) {
		// Encapsulated syntaxes are explicit VR little endian; the library fails on those newer than its
		// dictionary (HTJ2K).
		p.SetTransferSyntax(binary.LittleEndian, false)
	}
	ds.Elements = append(ds.Elements, meta.Elements...)
	for {
		e, err := p.Next()
		if errors.Is(err, dicom.ErrorEndOfDICOM) || errors.Is(err, io.EOF) {
			return ds, ts, nil
		}
		if err != nil {
			return ds, "", fmt.Errorf("parse: %w", err)
		}
		ds.Elements = append(ds.Elements, e)
	}
}

// bitsAllocated is the dataset's BitsAllocated, 0 when absent.
func bitsAllocated(elems []*dicom.Element) int {
	e := findTag(elems, tag.BitsAllocated)
	if e == nil || e.Value == nil {
		return 0
	}
	if v, ok := e.Value.GetValue().([]int); ok && len(v) > 0 {
		return v[0]
	}
	return 0
}

// toLittleEndian byte-swaps the binary values the library keeps as read from a big-endian dataset: OW words,
// OF and OL values, OD values, and native pixel data by its VR and BitsAllocated. (Numbers of other VRs are
// decoded by the library and written little endian by Encode.)
func toLittleEndian(elems []*dicom.Element, bits int) {
	for _, e := range elems {
		if e.Value == nil {
			continue
		}
		switch v := e.Value.GetValue().(type) {
		case []*dicom.SequenceItemValue:
			for _, it := range v {
				toLittleEndian(it.GetValue().([]*dicom.Element), bits)
			}
		case []byte:
			swap(v, wordSize(e.RawValueRepresentation, 0))
		case dicom.PixelDataInfo:
			if v.IntentionallyUnprocessed {
				swap(v.UnprocessedValueData, wordSize(e.RawValueRepresentation, bits))
			}
		}
	}
}

// wordSize is the unit a big-endian value of vr is swapped by; pixel data (bits > 0) in OW is swapped by its
// BitsAllocated when that is wider than a word.
func wordSize(vr string, bits int) int {
	switch vr {
	case "OW":
		if bits > 16 {
			return bits / 8
		}
		return 2
	case "OF", "OL":
		return 4
	case "OD":
		return 8
	}
	return 1
}

func swap(b []byte, n int) {
	if n < 2 {
		return
	}
	for i := 0; i+n <= len(b); i += n {
		for j, k := i, i+n-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}

// withOffsetTable gives the encapsulated Pixel Data of elems the Basic Offset Table offsets.
func withOffsetTable(elems []*dicom.Element, offsets []uint32) []*dicom.Element {
	if len(offsets) == 0 {
		return elems
	}
	for i, e := range elems {
		if e.Tag != tag.PixelData || e.Value == nil {
			continue
		}
		info, ok := e.Value.GetValue().(dicom.PixelDataInfo)
		if !ok || !info.IsEncapsulated {
			continue
		}
		frags := make([][]byte, len(info.Frames))
		for k, fr := range info.Frames {
			frags[k] = fr.EncapsulatedData.Data
		}
		elems[i] = dcmwrite.EncapsulatedPixelData(offsets, frags...)
	}
	return elems
}
