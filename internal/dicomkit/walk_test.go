package dicomkit_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/suyashkumar/dicom/pkg/tag"
)

func instance(implicit bool) (testsvc.Instance, []byte) {
	in := testsvc.Instance{PatientID: "P-1", PatientName: "A^B", StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(),
		SOPUID: testsvc.NewUID(), Implicit: implicit}
	return in, testsvc.DICOM(in)
}

// withElementAt returns b with a raw explicit VR little endian element inserted at the start of its dataset.
func withElementAt(t testing.TB, b []byte, g, e uint16, vr string, length uint32, value []byte) []byte {
	t.Helper()
	m, err := dicomkit.ReadMeta(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var el []byte
	el = binary.LittleEndian.AppendUint16(el, g)
	el = binary.LittleEndian.AppendUint16(el, e)
	el = append(el, vr...)
	el = append(el, 0, 0)
	el = binary.LittleEndian.AppendUint32(el, length)
	el = append(el, value...)
	return append(append(append([]byte{}, b[:m.End]...), el...), b[m.End:]...)
}

func TestReadMeta(t *testing.T) {
	in, b := instance(false)
	m, err := dicomkit.ReadMeta(bytes.NewReader(b), int64(len(b)))
	if err != nil || m.TransferSyntax != "1.2.840.10008.1.2.1" || m.MediaInstance != in.SOPUID ||
		m.MediaClass != "1.2.840.10008.5.1.4.1.1.4" || m.End <= 132 || m.End >= int64(len(b)) {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := dicomkit.ReadMeta(bytes.NewReader(b[:m.End-3]), m.End-3); !errors.Is(err, dicomkit.ErrTruncated) {
		t.Errorf("meta cut short: %v", err)
	}
	if _, err := dicomkit.ReadMeta(bytes.NewReader(b[128:]), int64(len(b)-128)); !errors.Is(err, dicomkit.ErrNotDICOM) {
		t.Errorf("no preamble: %v", err)
	}
}

// TestWalk: the layout of a whole file, and every declared length that does not fit is refused.
func TestWalk(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		_, b := instance(implicit)
		lay, err := dicomkit.Walk(bytes.NewReader(b), int64(len(b)), 1<<20)
		if err != nil || !lay.HasPixels || lay.PixelLen != 2*16*16 || lay.PixelAt <= lay.End || lay.Syntax.Implicit != implicit {
			t.Fatalf("implicit=%v: %+v %v", implicit, lay, err)
		}
		if _, err := dicomkit.Walk(bytes.NewReader(b[:len(b)-1]), int64(len(b)-1), 1<<20); !errors.Is(err, dicomkit.ErrTruncated) {
			t.Errorf("implicit=%v, last byte cut: %v", implicit, err)
		}
	}
	_, b := instance(false)
	huge := withElementAt(t, b, 0x0007, 0x0010, "OB", 0xFFFFFFF0, []byte{1, 2})
	if _, err := dicomkit.Walk(bytes.NewReader(huge), int64(len(huge)), 1<<20); !errors.Is(err, dicomkit.ErrTruncated) {
		t.Errorf("a 4 GiB element in a small file: %v", err)
	}
	if _, err := dicomkit.ParseHeader(bytes.NewReader(huge), int64(len(huge))); !errors.Is(err, dicomkit.ErrTruncated) {
		t.Errorf("ParseHeader of a 4 GiB element in a small file: %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	in, b := instance(false)
	ds, err := dicomkit.ParseHeader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if dicomkit.Text(&ds, tag.SeriesInstanceUID) != in.SeriesUID || dicomkit.Text(&ds, tag.PatientName) != "A^B" ||
		dicomkit.Text(&ds, tag.TransferSyntaxUID) != "1.2.840.10008.1.2.1" {
		t.Errorf("%v", ds)
	}
	if _, err := ds.FindElementByTag(tag.PixelData); err == nil {
		t.Error("ParseHeader kept the pixel data")
	}
}

// TestReadIdentityLargeFile: the identity of an object larger than ReadIdentity reads is in its first
// bytes; the check of its structure stops where the parse stops.
func TestReadIdentityLargeFile(t *testing.T) {
	in := testsvc.Instance{PatientID: "P-2", StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(), SOPUID: testsvc.NewUID(),
		Rows: 2048, Columns: 2048}
	b := testsvc.DICOM(in)
	if len(b) <= dicomkit.MaxIdentityBytes {
		t.Fatalf("the test file has %d bytes", len(b))
	}
	id, err := dicomkit.ReadIdentity(bytes.NewReader(b))
	if err != nil || id.SOPUID != in.SOPUID || id.SeriesUID != in.SeriesUID {
		t.Fatalf("%+v %v", id, err)
	}
}

// TestReadIdentityDeclaredLength: an element before SeriesInstanceUID that declares 4 GiB in a file of a
// few hundred bytes is refused before the library allocates it (it allocated 4 GiB before).
func TestReadIdentityDeclaredLength(t *testing.T) {
	_, b := instance(false)
	huge := withElementAt(t, b, 0x0007, 0x0010, "OB", 0xFFFFFFF0, []byte{1, 2})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := dicomkit.ReadIdentity(bytes.NewReader(huge))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, dicomkit.ErrTruncated) {
		t.Errorf("error %v, want ErrTruncated", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("reading a %d-byte upload allocated %d MiB", len(huge), grew>>20)
	}
}

// FuzzReadMeta: any input gives the meta or an error, never a panic; the dataset starts inside the input.
func FuzzReadMeta(f *testing.F) {
	for _, implicit := range []bool{false, true} {
		_, b := instance(implicit)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dicomkit.ReadMeta(bytes.NewReader(b), int64(len(b)))
		if err == nil && (m.End < 132 || m.End > int64(len(b))) {
			t.Fatalf("dataset at %d of %d bytes", m.End, len(b))
		}
	})
}

// FuzzWalk: any input gives a layout or an error, never a panic; a layout's dataset and pixel data lie in
// the input.
func FuzzWalk(f *testing.F) {
	for _, implicit := range []bool{false, true} {
		_, b := instance(implicit)
		f.Add(b)
		f.Add(withElementAt(f, b, 0x0007, 0x0010, "OB", 0xFFFFFFF0, []byte{1, 2}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lay, err := dicomkit.Walk(bytes.NewReader(b), int64(len(b)), 1<<20)
		if err != nil {
			return
		}
		if lay.PixelAt < 0 || lay.PixelAt > int64(len(b)) || lay.End > int64(len(b)) ||
			(!lay.Syntax.Deflated && lay.DatasetSize != int64(len(b))-lay.End) {
			t.Fatalf("layout outside the input: %+v", lay)
		}
	})
}
