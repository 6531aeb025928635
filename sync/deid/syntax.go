package deid

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// readFile reads the size bytes of a DICOM file from r once, pixel data kept as stored (native bytes, or
// encapsulated fragments): viewer.Part10 completes a file without preamble or file meta, dicomkit.Walk checks
// its structure before the library reads it, and an object without pixel data is refused as the viewer
// refuses it (viewer.ErrNoPixels). The values of a big-endian dataset come back little endian
// (toLittleEndian), as Encode writes them.
func readFile(r io.ReaderAt, size int64) (dicom.Dataset, *dicomkit.Layout, error) {
	r, size, _, err := viewer.Part10(r, size)
	if err != nil {
		return dicom.Dataset{}, nil, err
	}
	lay, err := dicomkit.Walk(r, size, dicomkit.MaxInflated)
	switch {
	case errors.Is(err, dicomkit.ErrDICOMDIR):
		return dicom.Dataset{}, nil, fmt.Errorf("%w: %w", viewer.ErrNoPixels, err)
	case err != nil:
		return dicom.Dataset{}, nil, err
	case !lay.HasPixels:
		return dicom.Dataset{}, nil, fmt.Errorf("%w: the object (SOP class %s) holds no image", viewer.ErrNoPixels, lay.MediaClass)
	}
	opts := []dicomkit.Option{dicomkit.WithPixelBytes()}
	if lay.ForceImplicit {
		opts = append(opts, dicomkit.WithImplicitVR())
	}
	ds, err := dicomkit.Parse(io.NewSectionReader(r, 0, size), size, opts...)
	if err != nil {
		return ds, nil, err
	}
	if lay.Syntax.BigEndian && !lay.ForceImplicit {
		bits, _, _ := dicomkit.Int(dicomkit.Find(ds.Elements, tag.BitsAllocated))
		toLittleEndian(ds.Elements, bits)
	}
	return ds, lay, nil
}

// openRegular opens the regular file at path and returns it with its size.
func openRegular(path string) (*os.File, int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := fh.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w: not a regular file", path, dicomkit.ErrNotDICOM)
	}
	if err != nil {
		fh.Close()
		return nil, 0, err
	}
	return fh, st.Size(), nil
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
