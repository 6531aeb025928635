package viewer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// TestWithoutPreambleOrMeta reads Part 10 content without its preamble, without preamble and "DICM", and
// datasets without file meta in each syntax dcmtk and pydicom guess: the image must decode to the same
// values as the complete file, and the series must carry a warning that says what was missing.
func TestWithoutPreambleOrMeta(t *testing.T) {
	s := slice{study: "1", series: "1.1", number: 1, rows: 3, cols: 4, position: &Vec3{1, 2, 3}, orientation: &axial,
		pixelSpacing: []float64{0.5, 0.5}, signed: true, stored: 12, values: ramp(12, -6, 1)}
	for _, ts := range []string{tsImplicit, tsExplicit, tsBig} {
		full, err := encodeDICOM(ts, s.elems(ts == tsBig))
		if err != nil {
			t.Fatal(err)
		}
		metaEnd := 132 + 12 + int(binary.LittleEndian.Uint32(full[140:]))
		cases := []struct {
			name, warning string
			data          []byte
		}{
			{"complete", "", full},
			{"no preamble", "no 128-byte preamble", full[128:]},
			{"no preamble, no DICM", `no preamble and no "DICM" prefix`, full[132:]},
			{"no file meta", "no file meta information: read as " + map[string]string{
				tsImplicit: "Implicit VR Little Endian", tsExplicit: "Explicit VR Little Endian", tsBig: "Explicit VR Big Endian"}[ts],
				full[metaEnd:]},
		}
		var want []float32
		for _, c := range cases {
			cfg := config{keepPixels: true, memoryLimit: DefaultMemoryLimit}
			f, err := parseDICOM(bytes.NewReader(c.data), int64(len(c.data)), &cfg)
			if err != nil {
				t.Errorf("%s, %s: %v", ts, c.name, err)
				continue
			}
			f.Instance.Path = "/x/" + c.name
			got, _, err := f.Decode()
			if err != nil {
				t.Errorf("%s, %s: %v", ts, c.name, err)
				continue
			}
			if want == nil {
				want = got
			} else if k := firstDifference(got, want); k >= 0 || len(got) != len(want) {
				t.Errorf("%s, %s: value %d is %g, the complete file's %g", ts, c.name, k, got[k], want[k])
			}
			problems := strings.Join(GroupFiles([]*File{f})[0].Series[0].Problems, "; ")
			if c.warning == "" && problems != "" || !strings.Contains(problems, c.warning) {
				t.Errorf("%s, %s: series problems %q, want %q", ts, c.name, problems, c.warning)
			}
		}
	}
	cfg := config{memoryLimit: DefaultMemoryLimit}
	for _, junk := range []string{"hello, this is not an image\n", "\x00\x00\x00\x00\x00\x00\x00\x00"} {
		if _, err := parseDICOM(strings.NewReader(junk), int64(len(junk)), &cfg); !errors.Is(err, ErrNotDICOM) {
			t.Errorf("%q: %v, want ErrNotDICOM", junk, err)
		}
	}
}

// TestFramesByOffsets groups fragments into frames by the Basic Offset Table (offsets count 8 bytes of item
// header per fragment) and refuses a table that does not fall on fragment boundaries.
func TestFramesByOffsets(t *testing.T) {
	frags := [][]byte{[]byte("aa"), []byte("bbbb"), []byte("cc"), []byte("dd")}
	cases := []struct {
		offsets []uint32
		want    []string
	}{
		{[]uint32{0, 22}, []string{"aabbbb", "ccdd"}},
		{[]uint32{0, 10, 32}, []string{"aa", "bbbbcc", "dd"}},
		{[]uint32{0, 12}, nil}, // not a fragment boundary
		{[]uint32{0, 10}, nil}, // the table says 2 frames, 3 are asked for below
		{[]uint32{4, 22}, nil}, // the first frame must start at the first fragment
	}
	for _, c := range cases {
		n := len(c.offsets)
		if c.want == nil && n == 2 && c.offsets[1] == 10 {
			n = 3
		}
		got, ok := framesByOffsets(frags, c.offsets, n)
		if ok != (c.want != nil) {
			t.Errorf("%v: ok %v", c.offsets, ok)
			continue
		}
		for i := range c.want {
			if string(got[i]) != c.want[i] {
				t.Errorf("%v: frame %d is %q, want %q", c.offsets, i, got[i], c.want[i])
			}
		}
	}
}
