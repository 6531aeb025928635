package nifti

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// bratsDir is the real BraTS subject shared by the team; tests that use it skip when it is absent.
const bratsDir = "/work/shared/data/brats-sub-0004"

func bratsFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(bratsDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the shared BraTS subject %s is absent (%v): this test reads real data, which lies beside the project checkout (../shared), never in it", p, err)
	}
	return p
}

// obliqueAffine is a rotated, flipped (left-handed), anisotropic grid: every qform code path gets used.
func obliqueAffine() Affine {
	c, s := math.Cos(0.3), math.Sin(0.3)
	// Rotation about z by 0.3 rad, then about x by 0.3 rad; third column negated (det < 0).
	rz := [3][3]float64{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}
	rx := [3][3]float64{{1, 0, 0}, {0, c, -s}, {0, s, c}}
	var r [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				r[i][j] += rx[i][k] * rz[k][j]
			}
		}
	}
	sp := [3]float64{0.9, 1.1, -3}
	var a Affine
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			a[i][j] = r[i][j] * sp[j]
		}
	}
	a[0][3], a[1][3], a[2][3] = -90.5, 120.25, 33
	return a
}

func randomImage(size [3]int, dt Datatype, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 1))
	data := make([]float32, size[0]*size[1]*size[2])
	lim, isInt := intRange[dt]
	for i := range data {
		if isInt {
			data[i] = float32(math.Round(lim[0] + rng.Float64()*(min(lim[1], 1<<24)-lim[0])))
		} else {
			data[i] = float32(rng.NormFloat64() * 1000)
		}
	}
	return NewImage(size, obliqueAffine(), dt, data)
}

func encodeBytes(t testing.TB, im *Image, bo binary.ByteOrder, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if gz {
		zw := gzip.NewWriter(&buf)
		if err := encode(zw, im, bo); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	} else if err := encode(&buf, im, bo); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func assertAffine(t *testing.T, got, want Affine, tol float64) {
	t.Helper()
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			if math.Abs(got[r][c]-want[r][c]) > tol {
				t.Fatalf("affine[%d][%d] = %v, want %v (got %v)", r, c, got[r][c], want[r][c], got)
			}
		}
	}
}

func TestRoundTripDatatypesByteOrdersCompression(t *testing.T) {
	size := [3]int{7, 5, 4}
	for _, dt := range []Datatype{Uint8, Int8, Int16, Uint16, Int32, Uint32, Float32, Float64} {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			for _, gz := range []bool{false, true} {
				im := randomImage(size, dt, uint64(dt))
				got, err := Decode(bytes.NewReader(encodeBytes(t, im, bo, gz)))
				if err != nil {
					t.Fatalf("%v %v gz=%v: %v", dt, bo, gz, err)
				}
				if got.Size != size || got.Frames != 1 || got.Header.Datatype != dt || got.Header.ByteOrder != bo {
					t.Fatalf("%v %v: size %v frames %d datatype %v order %v", dt, bo, got.Size, got.Frames, got.Header.Datatype, got.Header.ByteOrder)
				}
				for i := range im.Data {
					if got.Data[i] != im.Data[i] {
						t.Fatalf("%v %v gz=%v: voxel %d = %v, want %v", dt, bo, gz, i, got.Data[i], im.Data[i])
					}
				}
				if got.Method != MethodSForm {
					t.Fatalf("method %v, want sform", got.Method)
				}
				assertAffine(t, got.Affine, im.Affine, 1e-4)
			}
		}
	}
}

// The qform written for an oblique, left-handed grid must describe the same affine as the sform.
func TestQFormMatchesSForm(t *testing.T) {
	im := randomImage([3]int{3, 3, 3}, Int16, 1)
	b := encodeBytes(t, im, binary.LittleEndian, false)
	binary.LittleEndian.PutUint16(b[254:], 0) // sform_code = 0: the reader must fall back to the qform
	got, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != MethodQForm {
		t.Fatalf("method %v, want qform", got.Method)
	}
	if got.Header.Pixdim[0] != -1 {
		t.Fatalf("qfac %v, want -1 for a left-handed grid", got.Header.Pixdim[0])
	}
	assertAffine(t, got.Affine, im.Affine, 1e-5)

	binary.LittleEndian.PutUint16(b[252:], 0) // and qform_code = 0: pixdim only
	got, err = Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := Affine{{0.9, 0, 0, 0}, {0, 1.1, 0, 0}, {0, 0, 3, 0}}
	if got.Method != MethodScale {
		t.Fatalf("method %v, want pixdim", got.Method)
	}
	assertAffine(t, got.Affine, want, 1e-6)
}

// A hand-built header: a 180° rotation about z (quatern_d = 1), as BraTS label files carry it.
func TestQFormHalfTurn(t *testing.T) {
	im := NewImage([3]int{2, 2, 2}, Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}, Uint8, make([]float32, 8))
	b := encodeBytes(t, im, binary.LittleEndian, false)
	binary.LittleEndian.PutUint16(b[254:], 0)
	for i, v := range []float32{0, 0, 1, 0, 239, 0} {
		binary.LittleEndian.PutUint32(b[256+4*i:], math.Float32bits(v))
	}
	got, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	assertAffine(t, got.Affine, Affine{{-1, 0, 0, 0}, {0, -1, 0, 239}, {0, 0, 1, 0}}, 1e-6)
}

func TestScalingUnitsAndVoxOffset(t *testing.T) {
	im := NewImage([3]int{2, 2, 1}, Affine{{2, 0, 0, 1}, {0, 2, 0, 2}, {0, 0, 5, 3}}, Int16, []float32{-3, 0, 7, 100})
	b := encodeBytes(t, im, binary.LittleEndian, false)
	binary.LittleEndian.PutUint32(b[112:], math.Float32bits(0.5)) // scl_slope
	binary.LittleEndian.PutUint32(b[116:], math.Float32bits(-10)) // scl_inter
	b[123] = unitsMeter
	// Move the voxels 48 bytes further and say so in vox_offset, with a junk extension in between.
	ext := bytes.Repeat([]byte{0xAB}, 48)
	b = append(append(append([]byte{}, b[:singleFileData]...), ext...), b[singleFileData:]...)
	binary.LittleEndian.PutUint32(b[108:], math.Float32bits(singleFileData+48))
	got, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{-11.5, -10, -6.5, 40} {
		if got.Data[i] != want {
			t.Fatalf("voxel %d = %v, want %v", i, got.Data[i], want)
		}
	}
	assertAffine(t, got.Affine, Affine{{2000, 0, 0, 1000}, {0, 2000, 0, 2000}, {0, 0, 5000, 3000}}, 1e-3)

	// NaN slope means "no scaling" (nibabel writes it).
	binary.LittleEndian.PutUint32(b[112:], math.Float32bits(float32(math.NaN())))
	got, err = Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Data[0] != -3 {
		t.Fatalf("NaN slope: voxel 0 = %v, want -3", got.Data[0])
	}
}

func TestFourDimensions(t *testing.T) {
	im := NewImage([3]int{2, 1, 1}, Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}, Uint8, []float32{1, 2, 3, 4, 5, 6})
	im.Frames = 3
	got, err := Decode(bytes.NewReader(encodeBytes(t, im, binary.BigEndian, false)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Frames != 3 || got.Len() != 2 || len(got.Data) != 6 || got.Data[5] != 6 {
		t.Fatalf("frames %d len %d data %v", got.Frames, got.Len(), got.Data)
	}
}

func TestHeaderImagePair(t *testing.T) {
	dir := t.TempDir()
	im := randomImage([3]int{4, 3, 2}, Float32, 9)
	b := encodeBytes(t, im, binary.BigEndian, false)
	hdr := append([]byte{}, b[:singleFileData]...)
	copy(hdr[344:], "ni1\x00")
	binary.BigEndian.PutUint32(hdr[108:], math.Float32bits(0))
	if err := os.WriteFile(filepath.Join(dir, "x.hdr"), hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(b[singleFileData:])
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "x.img.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x.hdr", "x.img.gz"} {
		got, err := ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for i := range im.Data {
			if got.Data[i] != im.Data[i] {
				t.Fatalf("%s: voxel %d = %v, want %v", name, i, got.Data[i], im.Data[i])
			}
		}
	}
	// A single-file reader refuses a pair header: the voxels are elsewhere.
	if _, err := Decode(bytes.NewReader(hdr)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Decode(ni1 header) = %v, want ErrCorrupt", err)
	}
}

func TestBadHeaders(t *testing.T) {
	good := encodeBytes(t, randomImage([3]int{4, 4, 4}, Int16, 3), binary.LittleEndian, false)
	patch := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	cases := []struct {
		name string
		data []byte
		want error
		says string
	}{
		{"empty", nil, ErrNotNIfTI, "too short"},
		{"short header", good[:100], ErrNotNIfTI, "too short"},
		{"png", []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("x", 400)), ErrNotNIfTI, "sizeof_hdr"},
		{"nifti-2", patch(func(b []byte) []byte { binary.LittleEndian.PutUint32(b, 540); return b }), ErrUnsupported, "NIfTI-2"},
		{"analyze", patch(func(b []byte) []byte { copy(b[344:], "\x00\x00\x00\x00"); return b }), ErrNotNIfTI, "magic"},
		{"complex datatype", patch(func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[70:], 32)
			binary.LittleEndian.PutUint16(b[72:], 64)
			return b
		}), ErrUnsupported, "COMPLEX64"},
		{"rgb datatype", patch(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[70:], 128); return b }), ErrUnsupported, "RGB24"},
		{"bitpix mismatch", patch(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[72:], 8); return b }), ErrCorrupt, "bitpix"},
		{"dim0", patch(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[40:], 9); return b }), ErrCorrupt, "dim[0]"},
		{"negative dim", patch(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[44:], 0xFFFF); return b }), ErrCorrupt, "dim[2]"},
		{"huge dims", patch(func(b []byte) []byte {
			for a := 1; a <= 3; a++ {
				binary.LittleEndian.PutUint16(b[40+2*a:], 32767)
			}
			return b
		}), ErrTooLarge, "exceeds"},
		{"truncated voxels", good[:len(good)-10], ErrCorrupt, "bytes of voxel data"},
		{"vox_offset inside header", patch(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[108:], math.Float32bits(100))
			return b
		}), ErrCorrupt, "vox_offset"},
		{"vox_offset past end", patch(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[108:], math.Float32bits(1e6))
			return b
		}), ErrCorrupt, "vox_offset"},
		{"infinite slope", patch(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[112:], math.Float32bits(float32(math.Inf(1))))
			return b
		}), ErrCorrupt, "scl_slope"},
		{"NaN sform", patch(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[280:], math.Float32bits(float32(math.NaN())))
			return b
		}), ErrCorrupt, "srow"},
		{"zero pixdim without transforms", patch(func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[252:], 0)
			binary.LittleEndian.PutUint16(b[254:], 0)
			binary.LittleEndian.PutUint32(b[84:], 0)
			return b
		}), ErrCorrupt, "pixdim[2]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(c.data))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want %v mentioning %q", err, c.want, c.says)
			}
		})
	}
}

// A header that promises 2^27 voxels but carries none must fail without allocating for them.
func TestHugeHeaderDoesNotAllocate(t *testing.T) {
	im := NewImage([3]int{1, 1, 1}, Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}, Float64, []float32{1})
	b := encodeBytes(t, im, binary.LittleEndian, false)
	for a, n := range []int16{512, 512, 512} {
		binary.LittleEndian.PutUint16(b[42+2*a:], uint16(n))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(bytes.NewReader(b))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Fatalf("decoding a truncated 2^27-voxel header allocated %d bytes", n)
	}
}

func TestReadBraTSHeaderTransforms(t *testing.T) {
	im, err := ReadFile(bratsFile(t, "sub-0004_seg.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if im.Size != [3]int{240, 240, 155} || im.Method != MethodSForm || im.Header.Datatype != Uint8 {
		t.Fatalf("size %v method %v datatype %v", im.Size, im.Method, im.Header.Datatype)
	}
	if im.Header.VoxOffset <= singleFileData {
		t.Fatalf("vox_offset %v: this file is expected to carry an extension", im.Header.VoxOffset)
	}
	// The seg file has both transforms; the qform must agree with the sform.
	h := im.Header
	h.SFormCode = 0
	qa, m, err := h.affine()
	if err != nil || m != MethodQForm {
		t.Fatalf("qform: %v %v", m, err)
	}
	assertAffine(t, qa, im.Affine, 1e-5)
	var counts [5]int
	for _, v := range im.Data {
		counts[int(v)]++
	}
	if counts[1] != 7593 || counts[2] != 18654 || counts[3] != 0 || counts[4] != 15672 {
		t.Fatalf("label counts %v", counts)
	}
}

func FuzzDecode(f *testing.F) {
	for i, dt := range []Datatype{Uint8, Int16, Float32, Float64} {
		im := randomImage([3]int{3, 2, 2}, dt, uint64(i))
		f.Add(encodeBytes(f, im, binary.LittleEndian, false))
		f.Add(encodeBytes(f, im, binary.BigEndian, true))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := Decode(bytes.NewReader(data), WithMaxVoxels(1<<20))
		if err != nil {
			return
		}
		if len(im.Data) != im.Len()*im.Frames || im.Len() <= 0 {
			t.Fatalf("decoded %d values for %v×%d", len(im.Data), im.Size, im.Frames)
		}
		for _, s := range im.Affine.Spacing() {
			if math.IsNaN(s) {
				t.Fatalf("NaN spacing in %v", im.Affine)
			}
		}
	})
}

func BenchmarkDecodeBraTSFLAIR(b *testing.B) {
	data, err := os.ReadFile(bratsFile(b, "sub-0004_FLAIR.nii.gz"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(240 * 240 * 155)
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeInt16Raw(b *testing.B) {
	im := randomImage([3]int{240, 240, 155}, Int16, 1)
	data := encodeBytes(b, im, binary.LittleEndian, false)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
