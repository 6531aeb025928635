// Package nifti reads and writes NIfTI-1 images (.nii, .nii.gz, and .hdr/.img pairs).
//
// An Image holds its voxels as float32 real-world values (scl_slope and scl_inter applied) in file order:
// voxel (i, j, k) of frame t is Data[i + nx*(j + ny*(k + nz*t))]. Its Affine maps a voxel index to NIfTI world
// coordinates (RAS+, millimetres); Method says which header transform the affine came from.
package nifti

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Sentinel errors that callers can branch on with errors.Is.
var (
	// ErrNotNIfTI is returned for data that is not a NIfTI-1 header (wrong sizeof_hdr or magic).
	ErrNotNIfTI = errors.New("nifti: not a NIfTI-1 file")
	// ErrUnsupported is returned for valid NIfTI that this package does not handle (a datatype, NIfTI-2).
	ErrUnsupported = errors.New("nifti: unsupported")
	// ErrCorrupt is returned for a header whose values are impossible or a file shorter than its header says.
	ErrCorrupt = errors.New("nifti: corrupt")
	// ErrTooLarge is returned when the header asks for more voxels than the reader's limit.
	ErrTooLarge = errors.New("nifti: image larger than the limit")
)

// headerSize is sizeof_hdr of a NIfTI-1 header; a single-file image has 4 extension bytes after it.
const (
	headerSize     = 348
	singleFileData = 352
)

// Datatype is the NIfTI datatype code of the stored voxels.
type Datatype int16

// The datatypes this package reads; it writes Uint8, Int16 and Float32.
const (
	Uint8   Datatype = 2
	Int16   Datatype = 4
	Int32   Datatype = 8
	Float32 Datatype = 16
	Float64 Datatype = 64
	Int8    Datatype = 256
	Uint16  Datatype = 512
	Uint32  Datatype = 768
)

var datatypeNames = map[Datatype]string{
	1: "BINARY", Uint8: "UINT8", Int16: "INT16", Int32: "INT32", Float32: "FLOAT32", 32: "COMPLEX64",
	Float64: "FLOAT64", 128: "RGB24", Int8: "INT8", Uint16: "UINT16", Uint32: "UINT32", 1024: "INT64",
	1280: "UINT64", 1536: "FLOAT128", 1792: "COMPLEX128", 2048: "COMPLEX256", 2304: "RGBA32",
}

func (d Datatype) String() string {
	if n, ok := datatypeNames[d]; ok {
		return n
	}
	return fmt.Sprintf("datatype %d", int16(d))
}

// bytesPerVoxel is the stored size of one value, 0 for datatypes this package does not read.
func (d Datatype) bytesPerVoxel() int {
	switch d {
	case Uint8, Int8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// Method is where an image's voxel-to-world transform came from (the NIfTI-1 "methods").
type Method int

const (
	// MethodScale (method 1) uses pixdim only: no orientation is known.
	MethodScale Method = 1
	// MethodQForm (method 2) uses the quaternion, qoffset, pixdim and qfac.
	MethodQForm Method = 2
	// MethodSForm (method 3) uses the srow_x/y/z affine.
	MethodSForm Method = 3
)

func (m Method) String() string {
	switch m {
	case MethodScale:
		return "pixdim"
	case MethodQForm:
		return "qform"
	case MethodSForm:
		return "sform"
	}
	return fmt.Sprintf("method %d", int(m))
}

// Affine maps a voxel index (i, j, k) to world coordinates: x = A[0][0]·i + A[0][1]·j + A[0][2]·k + A[0][3].
type Affine [3][4]float64

// Apply maps a (possibly fractional) voxel index to world coordinates.
func (a Affine) Apply(i, j, k float64) [3]float64 {
	var p [3]float64
	for r := 0; r < 3; r++ {
		p[r] = a[r][0]*i + a[r][1]*j + a[r][2]*k + a[r][3]
	}
	return p
}

// Column returns column c (0..2: the world step of one voxel along axis c; 3: the origin).
func (a Affine) Column(c int) [3]float64 { return [3]float64{a[0][c], a[1][c], a[2][c]} }

// Header is the NIfTI-1 header fields this package uses, as stored (no units converted).
type Header struct {
	ByteOrder     binary.ByteOrder
	Dim           [8]int16
	IntentCode    int16
	Datatype      Datatype
	Bitpix        int16
	Pixdim        [8]float32
	VoxOffset     float32
	SclSlope      float32
	SclInter      float32
	XYZTUnits     uint8
	CalMin        float32
	CalMax        float32
	Description   string
	QFormCode     int16
	SFormCode     int16
	Quatern       [3]float32 // quatern_b, c, d
	QOffset       [3]float32
	SRow          [3][4]float32
	IntentName    string
	Magic         string // "n+1" (single file) or "ni1" (header and image files)
	HasExtensions bool   // the extension flag after a single-file header is set
}

// Spatial units of xyzt_units.
const (
	unitsUnknown = 0
	unitsMeter   = 1
	unitsMM      = 2
	unitsMicron  = 3
)

// spatialScale converts the header's spatial unit to millimetres (unknown units are taken as mm, as the
// standard advises).
func (h *Header) spatialScale() float64 {
	switch h.XYZTUnits & 0x07 {
	case unitsMeter:
		return 1000
	case unitsMicron:
		return 0.001
	}
	return 1
}

// Image is a decoded NIfTI-1 image.
type Image struct {
	Header Header
	Size   [3]int // nx, ny, nz (1 for absent dimensions)
	Frames int    // product of dim[4..7]; 1 for a 3-D image
	// Affine maps voxel indices to NIfTI world (RAS+) millimetres, from the transform Method names.
	Affine Affine
	Method Method
	// Data holds Size[0]·Size[1]·Size[2]·Frames values, scaling applied.
	Data []float32
}

// Len is the number of voxels in one frame.
func (im *Image) Len() int { return im.Size[0] * im.Size[1] * im.Size[2] }

// Spacing returns the length of the affine's first three columns: the voxel size in mm along i, j, k.
func (a Affine) Spacing() [3]float64 {
	var s [3]float64
	for c := 0; c < 3; c++ {
		v := a.Column(c)
		s[c] = math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	}
	return s
}

// quaternToRotation returns the rotation matrix of the unit quaternion (a, b, c, d) whose b, c, d are given,
// as the NIfTI-1 standard defines it (a ≥ 0; a tiny negative 1−b²−c²−d² is a 180° rotation).
func quaternToRotation(b, c, d float64) [3][3]float64 {
	a := 1 - (b*b + c*c + d*d)
	if a < 1e-7 {
		n := 1 / math.Sqrt(b*b+c*c+d*d)
		b, c, d = b*n, c*n, d*n
		a = 0
	} else {
		a = math.Sqrt(a)
	}
	return [3][3]float64{
		{a*a + b*b - c*c - d*d, 2 * (b*c - a*d), 2 * (b*d + a*c)},
		{2 * (b*c + a*d), a*a + c*c - b*b - d*d, 2 * (c*d - a*b)},
		{2 * (b*d - a*c), 2 * (c*d + a*b), a*a + d*d - c*c - b*b},
	}
}

// rotationToQuatern returns quatern_b, c, d and qfac for a matrix with orthonormal columns (a proper or
// improper rotation), following the standard's mat44_to_quatern.
func rotationToQuatern(r [3][3]float64) (b, c, d, qfac float64) {
	det := r[0][0]*(r[1][1]*r[2][2]-r[1][2]*r[2][1]) - r[0][1]*(r[1][0]*r[2][2]-r[1][2]*r[2][0]) +
		r[0][2]*(r[1][0]*r[2][1]-r[1][1]*r[2][0])
	qfac = 1
	if det < 0 {
		qfac = -1
		for i := 0; i < 3; i++ {
			r[i][2] = -r[i][2]
		}
	}
	var a float64
	if t := r[0][0] + r[1][1] + r[2][2] + 1; t > 0.5 {
		a = 0.5 * math.Sqrt(t)
		b = 0.25 * (r[2][1] - r[1][2]) / a
		c = 0.25 * (r[0][2] - r[2][0]) / a
		d = 0.25 * (r[1][0] - r[0][1]) / a
	} else {
		xd := 1 + r[0][0] - (r[1][1] + r[2][2])
		yd := 1 + r[1][1] - (r[0][0] + r[2][2])
		zd := 1 + r[2][2] - (r[0][0] + r[1][1])
		switch {
		case xd > 1:
			b = 0.5 * math.Sqrt(xd)
			c = 0.25 * (r[0][1] + r[1][0]) / b
			d = 0.25 * (r[0][2] + r[2][0]) / b
			a = 0.25 * (r[2][1] - r[1][2]) / b
		case yd > 1:
			c = 0.5 * math.Sqrt(yd)
			b = 0.25 * (r[0][1] + r[1][0]) / c
			d = 0.25 * (r[1][2] + r[2][1]) / c
			a = 0.25 * (r[0][2] - r[2][0]) / c
		default:
			d = 0.5 * math.Sqrt(zd)
			b = 0.25 * (r[0][2] + r[2][0]) / d
			c = 0.25 * (r[1][2] + r[2][1]) / d
			a = 0.25 * (r[1][0] - r[0][1]) / d
		}
		if a < 0 {
			b, c, d = -b, -c, -d
		}
	}
	return b, c, d, qfac
}
