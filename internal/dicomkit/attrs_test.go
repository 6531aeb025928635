package dicomkit

import (
	"bytes"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// TestCharacterSetNotText: a Specific Character Set written with a numeric VR leaves the walk incomplete
// (the library then reads the file) instead of panicking (found by the viewer's FuzzFastMatchesLibrary).
func TestCharacterSetNotText(t *testing.T) {
	ts := "1.2.840.10008.1.2.1\x00" // explicit VR little endian
	b := append(make([]byte, 128), "DICM"...)
	b = append(b, 0x02, 0x00, 0x10, 0x00, 'U', 'I', byte(len(ts)), 0)
	b = append(b, ts...)
	b = append(b, 0x08, 0x00, 0x05, 0x00, 'U', 'L', 4, 0, 1, 2, 3, 4, // (0008,0005) UL
		0x08, 0x00, 0x60, 0x00, 'C', 'S', 2, 0, 'M', 'R') // (0008,0060) CS "MR"
	want := NewWanted(tag.Modality)
	if _, err := WalkAttributes(bytes.NewReader(b), int64(len(b)), 1<<20, want); err != nil {
		t.Fatal(err)
	}
	if want.Complete {
		t.Error("a character set given as a number: the walk says it is complete")
	}
}
