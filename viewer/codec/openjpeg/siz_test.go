//go:build cgo

package openjpeg

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

// manyTiles is the main header the fuzzer found (88 bytes): 400×1,835,408 pixels of 3 components in
// 128×128 tiles, 57,360 tiles, for which OpenJPEG's header reading took 650 MiB; refused now as taller
// than a DICOM frame can be.
func manyTiles() []byte {
	b := []byte{0xFF, 0x4F, 0xFF, 0x51, 0, 47, 0, 0}
	for _, v := range []uint32{400, 1835408, 0, 0, 128, 128, 0, 0} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = append(b, 0, 3, 7, 1, 1, 7, 1, 1, 7, 1, 1)
	rest, _ := hex.DecodeString("ff52000c00010006010503030001ff5c00134040484850484850484850484850484850ff90")
	return append(b, rest...)
}

func TestTilesBoundedBeforeOpenJPEG(t *testing.T) {
	b := manyTiles()
	binary.BigEndian.PutUint32(b[12:], 65535) // Ysiz: 400×65535 pixels, 2,048 tiles
	if _, err := ReadHeader(b); err != nil {
		t.Fatalf("ReadHeader of 2048 tiles: %v", err)
	}
	binary.BigEndian.PutUint32(b[28:], 1) // YTsiz: 262,140 tiles
	if _, err := ReadHeader(b); err == nil || !strings.Contains(err.Error(), "262140 tiles") {
		t.Fatalf("ReadHeader: %v, want the 262140 tiles refused", err)
	}
	small := viewer.FrameInfo{Rows: 16, Columns: 16, Samples: 3, BitsAllocated: 8, BitsStored: 8, Photometric: "RGB"}
	if _, err := Decode(make([]byte, small.Len()), manyTiles(), small); err == nil || !strings.Contains(err.Error(), "65535") {
		t.Fatalf("Decode: %v, want the size refused", err)
	}
}

func TestReadSIZ(t *testing.T) {
	for _, tc := range []struct {
		name string
		siz  []uint32 // Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz
		want string   // "" or part of the error
	}{
		{"one tile", []uint32{512, 256, 0, 0, 512, 256, 0, 0}, ""},
		{"offset image", []uint32{612, 356, 100, 100, 64, 64, 100, 100}, ""},
		{"empty", []uint32{100, 100, 100, 0, 64, 64, 0, 0}, "empty image"},
		{"tile offset past the image", []uint32{100, 100, 10, 10, 64, 64, 20, 0}, "miss"},
		{"zero tile", []uint32{100, 100, 0, 0, 0, 64, 0, 0}, "miss"},
		{"4097 tiles", []uint32{4097, 1, 0, 0, 1, 1, 0, 0}, "4097 tiles"},
		{"65536 rows", []uint32{400, 65536 + 80, 0, 80, 5, 1 << 31, 0, 0}, "65535"},
	} {
		b := []byte{0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0}
		for _, v := range tc.siz {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		b = append(b, 0, 1, 7, 1, 1)
		s, err := readSIZ(b)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && (s.Width != int(tc.siz[0]-tc.siz[2]) || s.Height != int(tc.siz[1]-tc.siz[3]) || s.Components != 1):
			t.Errorf("%s: %+v", tc.name, s)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := readSIZ(append([]byte(nil), jp2Signature...)); err == nil {
		t.Error("a JP2 signature without a codestream box: no error")
	}
}
