package nifti

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// XformScanner is the sform/qform code for scanner-based anatomical coordinates (NIFTI_XFORM_SCANNER_ANAT).
const XformScanner = 1

// NewImage makes a 3-D image ready to write: values data on a size grid placed by affine, to be stored as dt
// (Uint8, Int8, Int16, Uint16, Int32, Uint32, Float32 or Float64). Both transforms get code XformScanner.
func NewImage(size [3]int, affine Affine, dt Datatype, data []float32) *Image {
	return &Image{
		Header: Header{Datatype: dt, QFormCode: XformScanner, SFormCode: XformScanner, Magic: "n+1"},
		Size:   size, Frames: 1, Affine: affine, Data: data, Method: MethodSForm,
	}
}

// WriteFile writes im as a single-file NIfTI-1 image, gzip-compressed when path ends in ".gz". The file is
// written to a temporary name and renamed, so a failed write leaves no partial file.
func WriteFile(path string, im *Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nifti-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<16)
	var w io.Writer = bw
	var zw *gzip.Writer
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		zw = gzip.NewWriter(bw)
		w = zw
	}
	err = Encode(w, im)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("nifti: write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// Encode writes im as an uncompressed single-file NIfTI-1 stream (little endian). It stores both the sform
// (the affine as given) and the qform (the affine's rotation as a quaternion, which needs orthogonal
// columns). Integer datatypes need whole values within the type's range; the voxel that is not is named.
func Encode(w io.Writer, im *Image) error { return encode(w, im, binary.LittleEndian) }

func encode(w io.Writer, im *Image, bo binary.ByteOrder) error {
	h, err := headerFor(im)
	if err != nil {
		return err
	}
	b := make([]byte, singleFileData)
	putHeader(b, h, bo)
	if _, err := w.Write(b); err != nil {
		return err
	}
	return writeVoxels(w, im.Data, h.Datatype, bo)
}

// headerFor builds the header of im, checking what it would store.
func headerFor(im *Image) (Header, error) {
	h := Header{Datatype: im.Header.Datatype, Description: im.Header.Description, IntentCode: im.Header.IntentCode,
		IntentName: im.Header.IntentName, CalMin: im.Header.CalMin, CalMax: im.Header.CalMax,
		QFormCode: im.Header.QFormCode, SFormCode: im.Header.SFormCode, Magic: "n+1",
		VoxOffset: singleFileData, SclSlope: 1, XYZTUnits: unitsMM | 8 /* seconds */}
	if h.Datatype == 0 {
		h.Datatype = Float32
	}
	bpv := h.Datatype.bytesPerVoxel()
	if bpv == 0 {
		return h, fmt.Errorf("%w: cannot write datatype %v", ErrUnsupported, h.Datatype)
	}
	h.Bitpix = int16(8 * bpv)
	if h.QFormCode <= 0 {
		h.QFormCode = XformScanner
	}
	if h.SFormCode <= 0 {
		h.SFormCode = XformScanner
	}
	frames := max(im.Frames, 1)
	h.Dim = [8]int16{3, 1, 1, 1, 1, 1, 1, 1}
	if frames > 1 {
		h.Dim[0] = 4
	}
	for a, n := range []int{im.Size[0], im.Size[1], im.Size[2], frames} {
		if n < 1 || n > math.MaxInt16 {
			return h, fmt.Errorf("%w: cannot write size %v×%d", ErrCorrupt, im.Size, frames)
		}
		h.Dim[a+1] = int16(n)
	}
	if len(im.Data) != im.Len()*frames {
		return h, fmt.Errorf("%w: %d values for size %v×%d", ErrCorrupt, len(im.Data), im.Size, frames)
	}
	spacing := im.Affine.Spacing()
	var rot [3][3]float64
	for c := 0; c < 3; c++ {
		if !(spacing[c] > 0) || math.IsInf(spacing[c], 0) {
			return h, fmt.Errorf("%w: affine column %d has length %v", ErrCorrupt, c, spacing[c])
		}
		for r := 0; r < 3; r++ {
			rot[r][c] = im.Affine[r][c] / spacing[c]
		}
	}
	for c := 0; c < 3; c++ {
		for d := c + 1; d < 3; d++ {
			dot := rot[0][c]*rot[0][d] + rot[1][c]*rot[1][d] + rot[2][c]*rot[2][d]
			if math.Abs(dot) > 1e-4 {
				return h, fmt.Errorf("%w: affine columns %d and %d are not orthogonal (cos %.3g); a qform cannot represent it", ErrUnsupported, c, d, dot)
			}
		}
	}
	qb, qc, qd, qfac := rotationToQuatern(rot)
	h.Quatern = [3]float32{float32(qb), float32(qc), float32(qd)}
	h.Pixdim = [8]float32{float32(qfac), float32(spacing[0]), float32(spacing[1]), float32(spacing[2]), 1, 1, 1, 1}
	for r := 0; r < 3; r++ {
		h.QOffset[r] = float32(im.Affine[r][3])
		for c := 0; c < 4; c++ {
			h.SRow[r][c] = float32(im.Affine[r][c])
		}
	}
	return h, nil
}

func putHeader(b []byte, h Header, bo binary.ByteOrder) {
	i16 := func(off int, v int16) { bo.PutUint16(b[off:], uint16(v)) }
	f32 := func(off int, v float32) { bo.PutUint32(b[off:], math.Float32bits(v)) }
	bo.PutUint32(b[0:], headerSize)
	for i := range h.Dim {
		i16(40+2*i, h.Dim[i])
		f32(76+4*i, h.Pixdim[i])
	}
	i16(68, h.IntentCode)
	i16(70, int16(h.Datatype))
	i16(72, h.Bitpix)
	f32(108, h.VoxOffset)
	f32(112, h.SclSlope)
	f32(116, h.SclInter)
	b[123] = h.XYZTUnits
	f32(124, h.CalMax)
	f32(128, h.CalMin)
	copy(b[148:227], h.Description)
	i16(252, h.QFormCode)
	i16(254, h.SFormCode)
	for i := 0; i < 3; i++ {
		f32(256+4*i, h.Quatern[i])
		f32(268+4*i, h.QOffset[i])
		for c := 0; c < 4; c++ {
			f32(280+16*i+4*c, h.SRow[i][c])
		}
	}
	copy(b[328:343], h.IntentName)
	copy(b[344:348], h.Magic+"\x00")
}

// intRange is the range of the integer datatypes.
var intRange = map[Datatype][2]float64{
	Uint8: {0, math.MaxUint8}, Int8: {math.MinInt8, math.MaxInt8}, Int16: {math.MinInt16, math.MaxInt16},
	Uint16: {0, math.MaxUint16}, Int32: {math.MinInt32, math.MaxInt32}, Uint32: {0, math.MaxUint32},
}

func writeVoxels(w io.Writer, data []float32, dt Datatype, bo binary.ByteOrder) error {
	bpv := dt.bytesPerVoxel()
	const chunk = 1 << 16
	buf := make([]byte, chunk*bpv)
	lim, isInt := intRange[dt]
	for start := 0; start < len(data); start += chunk {
		part := data[start:min(start+chunk, len(data))]
		for i, v := range part {
			x := float64(v)
			if isInt && (x != math.Trunc(x) || x < lim[0] || x > lim[1]) {
				return fmt.Errorf("%w: voxel %d has value %v, not storable as %v", ErrUnsupported, start+i, v, dt)
			}
			o := buf[i*bpv:]
			switch dt {
			case Uint8, Int8:
				o[0] = byte(int64(x))
			case Int16, Uint16:
				bo.PutUint16(o, uint16(int64(x)))
			case Int32, Uint32:
				bo.PutUint32(o, uint32(int64(x)))
			case Float32:
				bo.PutUint32(o, math.Float32bits(v))
			case Float64:
				bo.PutUint64(o, math.Float64bits(x))
			}
		}
		if _, err := w.Write(buf[:len(part)*bpv]); err != nil {
			return err
		}
	}
	return nil
}
