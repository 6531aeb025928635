package nifti

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// DefaultMaxVoxels is the reader's default limit on voxels (all frames): 2^27, 512 MiB of float32.
const DefaultMaxVoxels = 1 << 27

// maxVoxOffset bounds vox_offset: extensions larger than this are taken as a corrupt header.
const maxVoxOffset = 1 << 26

type readOptions struct {
	maxVoxels int
}

// Option configures reading.
type Option func(*readOptions)

// WithMaxVoxels sets the largest image (voxels over all frames) the reader accepts before allocating.
func WithMaxVoxels(n int) Option { return func(o *readOptions) { o.maxVoxels = n } }

func newReadOptions(opts []Option) readOptions {
	o := readOptions{maxVoxels: DefaultMaxVoxels}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// ReadFile reads a .nii or .nii.gz file, or a header/image pair given as either file (.hdr, .img, each
// optionally .gz). Compression is detected from the content, not the name.
func ReadFile(path string, opts ...Option) (*Image, error) {
	lower := strings.ToLower(path)
	for _, ext := range []string{".hdr", ".img", ".hdr.gz", ".img.gz"} {
		if strings.HasSuffix(lower, ext) {
			return readPair(path[:len(path)-len(ext)], opts)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	im, err := Decode(f, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

// Decode reads a single-file NIfTI-1 image (magic "n+1"), gzip-compressed or not.
func Decode(r io.Reader, opts ...Option) (*Image, error) {
	o := newReadOptions(opts)
	br, err := maybeGunzip(r)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	if h.Magic != "n+1" {
		return nil, fmt.Errorf("%w: magic %q names a separate .img file; read the .hdr/.img pair", ErrCorrupt, h.Magic)
	}
	im, err := newImage(h, o)
	if err != nil {
		return nil, err
	}
	off := float64(h.VoxOffset)
	if off < singleFileData || off != math.Trunc(off) || off > maxVoxOffset {
		return nil, fmt.Errorf("%w: vox_offset %v (want a whole number from %d to %d)", ErrCorrupt, h.VoxOffset, singleFileData, maxVoxOffset)
	}
	if _, err := io.CopyN(io.Discard, br, int64(off)-headerSize); err != nil {
		return nil, fmt.Errorf("%w: file ends before vox_offset %v", ErrCorrupt, h.VoxOffset)
	}
	if err := im.readData(br); err != nil {
		return nil, err
	}
	return im, nil
}

// DecodeHeader reads only the header of a NIfTI-1 stream, gzip-compressed or not.
func DecodeHeader(r io.Reader) (*Header, error) {
	br, err := maybeGunzip(r)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// ReadHeaderFile reads only the header of a .nii, .nii.gz or .hdr file.
func ReadHeaderFile(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := DecodeHeader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// readPair reads base.hdr[.gz] and base.img[.gz].
func readPair(base string, opts []Option) (*Image, error) {
	o := newReadOptions(opts)
	hf, hpath, err := openFirst(base+".hdr", base+".hdr.gz")
	if err != nil {
		return nil, err
	}
	defer hf.Close()
	hr, err := maybeGunzip(hf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hpath, err)
	}
	h, err := readHeader(hr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hpath, err)
	}
	if h.Magic != "ni1" {
		return nil, fmt.Errorf("%s: %w: magic %q in a .hdr file (want \"ni1\")", hpath, ErrCorrupt, h.Magic)
	}
	im, err := newImage(h, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hpath, err)
	}
	df, dpath, err := openFirst(base+".img", base+".img.gz")
	if err != nil {
		return nil, err
	}
	defer df.Close()
	dr, err := maybeGunzip(df)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dpath, err)
	}
	off := float64(h.VoxOffset)
	if off < 0 || off != math.Trunc(off) || off > maxVoxOffset {
		return nil, fmt.Errorf("%s: %w: vox_offset %v", hpath, ErrCorrupt, h.VoxOffset)
	}
	if _, err := io.CopyN(io.Discard, dr, int64(off)); err != nil {
		return nil, fmt.Errorf("%s: %w: file ends before vox_offset %v", dpath, ErrCorrupt, h.VoxOffset)
	}
	if err := im.readData(dr); err != nil {
		return nil, fmt.Errorf("%s: %w", dpath, err)
	}
	return im, nil
}

func openFirst(paths ...string) (*os.File, string, error) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err == nil {
			return f, p, nil
		}
		if !os.IsNotExist(err) {
			return nil, p, err
		}
	}
	return nil, "", fmt.Errorf("nifti: none of %s exists", strings.Join(paths, ", "))
}

// maybeGunzip returns a buffered reader over r, decompressed when r starts with the gzip magic.
func maybeGunzip(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(2)
	if err != nil {
		return nil, fmt.Errorf("%w: %d bytes, too short for a header", ErrNotNIfTI, len(magic))
	}
	if magic[0] != 0x1f || magic[1] != 0x8b {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("nifti: gzip: %w", err)
	}
	return bufio.NewReaderSize(zr, 1<<16), nil
}

// readHeader reads and parses the 348-byte header, detecting the byte order from sizeof_hdr.
func readHeader(r io.Reader) (Header, error) {
	var b [headerSize]byte
	if n, err := io.ReadFull(r, b[:]); err != nil {
		if n >= 4 && !isHeaderSize(b[:4]) {
			return Header{}, fmt.Errorf("%w: sizeof_hdr is neither 348 nor 540 in either byte order", ErrNotNIfTI)
		}
		return Header{}, fmt.Errorf("%w: %d bytes, too short for a 348-byte header", ErrNotNIfTI, n)
	}
	return parseHeader(b[:])
}

func isHeaderSize(b []byte) bool {
	le, be := binary.LittleEndian.Uint32(b), binary.BigEndian.Uint32(b)
	return le == headerSize || be == headerSize || le == 540 || be == 540
}

func parseHeader(b []byte) (Header, error) {
	var h Header
	switch {
	case binary.LittleEndian.Uint32(b) == headerSize:
		h.ByteOrder = binary.LittleEndian
	case binary.BigEndian.Uint32(b) == headerSize:
		h.ByteOrder = binary.BigEndian
	case binary.LittleEndian.Uint32(b) == 540 || binary.BigEndian.Uint32(b) == 540:
		return h, fmt.Errorf("%w: NIfTI-2 header (sizeof_hdr 540)", ErrUnsupported)
	default:
		return h, fmt.Errorf("%w: sizeof_hdr is neither 348 nor 540 in either byte order", ErrNotNIfTI)
	}
	bo := h.ByteOrder
	i16 := func(off int) int16 { return int16(bo.Uint16(b[off:])) }
	f32 := func(off int) float32 { return math.Float32frombits(bo.Uint32(b[off:])) }
	h.Magic = cString(b[344:348])
	if h.Magic != "n+1" && h.Magic != "ni1" {
		return h, fmt.Errorf("%w: magic %q (want \"n+1\" or \"ni1\"; ANALYZE 7.5 is not read)", ErrNotNIfTI, h.Magic)
	}
	for i := range h.Dim {
		h.Dim[i] = i16(40 + 2*i)
		h.Pixdim[i] = f32(76 + 4*i)
	}
	h.IntentCode = i16(68)
	h.Datatype = Datatype(i16(70))
	h.Bitpix = i16(72)
	h.VoxOffset = f32(108)
	h.SclSlope = f32(112)
	h.SclInter = f32(116)
	h.XYZTUnits = b[123]
	h.CalMax = f32(124)
	h.CalMin = f32(128)
	h.Description = cString(b[148:228])
	h.QFormCode = i16(252)
	h.SFormCode = i16(254)
	for i := 0; i < 3; i++ {
		h.Quatern[i] = f32(256 + 4*i)
		h.QOffset[i] = f32(268 + 4*i)
		for c := 0; c < 4; c++ {
			h.SRow[i][c] = f32(280 + 16*i + 4*c)
		}
	}
	h.IntentName = cString(b[328:344])
	return h, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// newImage checks the header's dimensions, datatype, scaling and transform, without allocating voxels.
func newImage(h Header, o readOptions) (*Image, error) {
	im := &Image{Header: h, Size: [3]int{1, 1, 1}, Frames: 1}
	nd := int(h.Dim[0])
	if nd < 1 || nd > 7 {
		return nil, fmt.Errorf("%w: dim[0] = %d (want 1 to 7)", ErrCorrupt, nd)
	}
	total := 1
	for a := 1; a <= nd; a++ {
		n := int(h.Dim[a])
		if n < 1 {
			return nil, fmt.Errorf("%w: dim[%d] = %d", ErrCorrupt, a, n)
		}
		if total > o.maxVoxels/n {
			return nil, fmt.Errorf("%w: dim %v exceeds %d voxels", ErrTooLarge, h.Dim[1:nd+1], o.maxVoxels)
		}
		total *= n
		if a <= 3 {
			im.Size[a-1] = n
		} else {
			im.Frames *= n
		}
	}
	if h.Datatype.bytesPerVoxel() == 0 {
		return nil, fmt.Errorf("%w: datatype %v (%d)", ErrUnsupported, h.Datatype, int16(h.Datatype))
	}
	if int(h.Bitpix) != 8*h.Datatype.bytesPerVoxel() {
		return nil, fmt.Errorf("%w: bitpix %d does not match datatype %v", ErrCorrupt, h.Bitpix, h.Datatype)
	}
	if _, _, err := h.scaling(); err != nil {
		return nil, err
	}
	var err error
	im.Affine, im.Method, err = h.affine()
	if err != nil {
		return nil, err
	}
	return im, nil
}

// scaling returns scl_slope and scl_inter as applied: a slope of 0 or NaN means no scaling (NaN is what
// several writers store for "unset"), a NaN intercept counts as 0, infinities are corrupt.
func (h *Header) scaling() (slope, inter float64, err error) {
	slope, inter = float64(h.SclSlope), float64(h.SclInter)
	if slope == 0 || math.IsNaN(slope) {
		return 1, 0, nil
	}
	if math.IsNaN(inter) {
		inter = 0
	}
	if math.IsInf(slope, 0) || math.IsInf(inter, 0) {
		return 0, 0, fmt.Errorf("%w: scl_slope %v, scl_inter %v", ErrCorrupt, h.SclSlope, h.SclInter)
	}
	return slope, inter, nil
}

// affine returns the voxel-to-world transform in mm and the method it came from: sform when sform_code > 0,
// else qform when qform_code > 0, else pixdim scaling.
func (h *Header) affine() (Affine, Method, error) {
	unit := h.spatialScale()
	var a Affine
	switch {
	case h.SFormCode > 0:
		for r := 0; r < 3; r++ {
			for c := 0; c < 4; c++ {
				v := float64(h.SRow[r][c])
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return a, 0, fmt.Errorf("%w: srow[%d][%d] = %v", ErrCorrupt, r, c, v)
				}
				a[r][c] = v * unit
			}
		}
		for c, s := range a.Spacing() {
			if s == 0 {
				return a, 0, fmt.Errorf("%w: sform column %d is zero", ErrCorrupt, c)
			}
		}
		return a, MethodSForm, nil
	case h.QFormCode > 0:
		d, err := h.voxelSize()
		if err != nil {
			return a, 0, err
		}
		q := [3]float64{float64(h.Quatern[0]), float64(h.Quatern[1]), float64(h.Quatern[2])}
		for i, v := range append(q[:], float64(h.QOffset[0]), float64(h.QOffset[1]), float64(h.QOffset[2])) {
			if math.IsNaN(v) || math.IsInf(v, 0) || (i < 3 && math.Abs(v) > 1+1e-4) {
				return a, 0, fmt.Errorf("%w: quaternion %v, qoffset %v", ErrCorrupt, h.Quatern, h.QOffset)
			}
		}
		rot := quaternToRotation(q[0], q[1], q[2])
		if h.Pixdim[0] < 0 {
			d[2] = -d[2]
		}
		for r := 0; r < 3; r++ {
			for c := 0; c < 3; c++ {
				a[r][c] = rot[r][c] * d[c] * unit
			}
			a[r][3] = float64(h.QOffset[r]) * unit
		}
		return a, MethodQForm, nil
	default:
		d, err := h.voxelSize()
		if err != nil {
			return a, 0, err
		}
		for c := 0; c < 3; c++ {
			a[c][c] = d[c] * unit
		}
		return a, MethodScale, nil
	}
}

// voxelSize returns pixdim[1..3]; an axis beyond dim[0] (a 2-D image's third axis) may have any pixdim and
// counts as 1, an axis in use must have a positive finite size.
func (h *Header) voxelSize() ([3]float64, error) {
	var d [3]float64
	for a := 0; a < 3; a++ {
		v := float64(h.Pixdim[a+1])
		if a+1 > int(h.Dim[0]) && !(v > 0 && !math.IsInf(v, 0)) {
			v = 1
		}
		if !(v > 0) || math.IsInf(v, 0) {
			return d, fmt.Errorf("%w: pixdim[%d] = %v (want a positive voxel size)", ErrCorrupt, a+1, h.Pixdim[a+1])
		}
		d[a] = v
	}
	return d, nil
}

// readData reads and converts the voxels. The raw bytes are read in growing chunks, so a header that
// promises more data than the stream holds fails at the end of the stream, not with a huge allocation.
func (im *Image) readData(r io.Reader) error {
	n := im.Len() * im.Frames
	bpv := im.Header.Datatype.bytesPerVoxel()
	raw, err := readAtMost(r, n*bpv)
	if err != nil {
		return err
	}
	if len(raw) < n*bpv {
		return fmt.Errorf("%w: %d bytes of voxel data, header needs %d (%v×%d of %v)", ErrCorrupt, len(raw), n*bpv, im.Size, im.Frames, im.Header.Datatype)
	}
	slope, inter, _ := im.Header.scaling()
	im.Data = make([]float32, n)
	convert(im.Data, raw, im.Header.Datatype, im.Header.ByteOrder)
	if slope != 1 || inter != 0 {
		for i, v := range im.Data {
			im.Data[i] = float32(float64(v)*slope + inter)
		}
	}
	return nil
}

// readAtMost reads up to n bytes, growing its buffer as data arrives.
func readAtMost(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 1<<20))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), n-len(buf)))
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("nifti: reading voxels: %w", err)
		}
	}
	return buf, nil
}

func convert(dst []float32, raw []byte, dt Datatype, bo binary.ByteOrder) {
	switch dt {
	case Uint8:
		for i := range dst {
			dst[i] = float32(raw[i])
		}
	case Int8:
		for i := range dst {
			dst[i] = float32(int8(raw[i]))
		}
	case Int16:
		for i := range dst {
			dst[i] = float32(int16(bo.Uint16(raw[2*i:])))
		}
	case Uint16:
		for i := range dst {
			dst[i] = float32(bo.Uint16(raw[2*i:]))
		}
	case Int32:
		for i := range dst {
			dst[i] = float32(int32(bo.Uint32(raw[4*i:])))
		}
	case Uint32:
		for i := range dst {
			dst[i] = float32(bo.Uint32(raw[4*i:]))
		}
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(bo.Uint32(raw[4*i:]))
		}
	case Float64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(bo.Uint64(raw[8*i:])))
		}
	}
}
