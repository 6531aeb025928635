package viewer

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/frame"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// Test files are written with the library's dicom.Write, which does not sort elements: writeDICOM does.

const (
	tsImplicit = "1.2.840.10008.1.2"
	tsExplicit = "1.2.840.10008.1.2.1"
	tsBig      = "1.2.840.10008.1.2.2"
	tsDeflated = "1.2.840.10008.1.2.1.99"
	tsJPEG     = "1.2.840.10008.1.2.4.50"
	tsRLE      = "1.2.840.10008.1.2.5"
	tsJ2K      = "1.2.840.10008.1.2.4.90"
	mrClass    = "1.2.840.10008.5.1.4.1.1.4"
)

// el makes an element; values are []string, []int, []float64, []byte or [][]*dicom.Element.
func el(t tag.Tag, v any) *dicom.Element {
	e, err := dicom.NewElement(t, v)
	if err != nil {
		panic(fmt.Sprintf("element %v: %v", t, err))
	}
	return e
}

func ds(v ...float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = strconv.FormatFloat(x, 'g', 10, 64)
	}
	return out
}

func is(n int) []string { return []string{strconv.Itoa(n)} }

// nativePixels is a native Pixel Data element holding raw bytes (padded to even length).
func nativePixels(raw []byte, vr string) *dicom.Element {
	if len(raw)%2 == 1 {
		raw = append(slices.Clone(raw), 0)
	}
	e := el(tag.PixelData, dicom.PixelDataInfo{IntentionallyUnprocessed: true, UnprocessedValueData: raw})
	e.RawValueRepresentation = vr
	e.ValueLength = uint32(len(raw))
	return e
}

// encapsulatedPixels is an encapsulated Pixel Data element with one fragment per slice of frags.
func encapsulatedPixels(frags ...[]byte) *dicom.Element {
	info := dicom.PixelDataInfo{IsEncapsulated: true}
	for _, f := range frags {
		if len(f)%2 == 1 {
			f = append(slices.Clone(f), 0)
		}
		info.Frames = append(info.Frames, &frame.Frame{Encapsulated: true, EncapsulatedData: frame.EncapsulatedFrame{Data: f}})
	}
	e := el(tag.PixelData, info)
	e.RawValueRepresentation = "OB"
	e.ValueLength = tag.VLUndefinedLength
	return e
}

// encodeDICOM writes a Part 10 file: file meta for ts, then elems sorted by tag.
func encodeDICOM(ts string, elems []*dicom.Element) ([]byte, error) {
	class, inst := mrClass, "1.2.3.4"
	for _, e := range elems {
		switch e.Tag {
		case tag.SOPClassUID:
			class = dicomkit.String(e)
		case tag.SOPInstanceUID:
			inst = dicomkit.String(e)
		}
	}
	writeTS := ts
	if ts == tsDeflated {
		writeTS = tsExplicit // the library cannot write deflated data: deflate its output below
	}
	all := append([]*dicom.Element{
		el(tag.FileMetaInformationVersion, []byte{0, 1}),
		el(tag.MediaStorageSOPClassUID, []string{class}),
		el(tag.MediaStorageSOPInstanceUID, []string{inst}),
		el(tag.TransferSyntaxUID, []string{writeTS}),
	}, elems...)
	slices.SortStableFunc(all, func(a, b *dicom.Element) int {
		return int(int64(a.Tag.Uint32()) - int64(b.Tag.Uint32()))
	})
	var buf bytes.Buffer
	if err := dicom.Write(&buf, dicom.Dataset{Elements: all}, dicom.SkipVRVerification()); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if ts == tsDeflated {
		out = deflateDataset(out)
	}
	return out, nil
}

// setMetaTransferSyntax rewrites the TransferSyntaxUID of a file written by encodeDICOM, fixing the meta
// group length; it returns the new file and where the dataset starts.
func setMetaTransferSyntax(file []byte, ts string) ([]byte, int) {
	metaEnd := 144 + int(binary.LittleEndian.Uint32(file[140:144]))
	off := 144
	for off < metaEnd {
		elem, vr := binary.LittleEndian.Uint16(file[off+2:]), string(file[off+4:off+6])
		hdr, vl := 8, int(binary.LittleEndian.Uint16(file[off+6:]))
		if dicomkit.LongVR(vr) {
			hdr, vl = 12, int(binary.LittleEndian.Uint32(file[off+8:]))
		}
		if elem != 0x0010 {
			off += hdr + vl
			continue
		}
		val := []byte(ts)
		if len(val)%2 == 1 {
			val = append(val, 0)
		}
		var b bytes.Buffer
		b.Write(file[:off+6])
		binary.Write(&b, binary.LittleEndian, uint16(len(val)))
		b.Write(val)
		b.Write(file[off+hdr+vl:])
		out := b.Bytes()
		delta := len(val) - vl
		binary.LittleEndian.PutUint32(out[140:], uint32(metaEnd-144+delta))
		return out, metaEnd + delta
	}
	panic("no TransferSyntaxUID in the file meta")
}

// deflateDataset turns an explicit VR little endian file into a deflated one.
func deflateDataset(file []byte) []byte {
	out, dataStart := setMetaTransferSyntax(file, tsDeflated)
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	fw.Write(out[dataStart:])
	fw.Close()
	return append(out[:dataStart:dataStart], z.Bytes()...)
}

func writeDICOM(t testing.TB, path, ts string, elems []*dicom.Element) string {
	t.Helper()
	b, err := encodeDICOM(ts, elems)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// slice describes one generated image file.
type slice struct {
	study, series, sop string
	number             int
	rows, cols         int
	position           *Vec3
	orientation        *[6]float64
	pixelSpacing       []float64
	thickness          float64
	slope, intercept   *float64
	photometric        string
	bits, stored       int
	signed             bool
	values             []int // stored values, rows·cols·samples·frames of them
	samples, planar    int
	frames             int
	windows            [][2]float64
	extra              []*dicom.Element
}

func ptr[T any](v T) *T { return &v }

var axial = [6]float64{1, 0, 0, 0, 1, 0}

// elems builds the dataset of a slice; pixel values are packed little or big endian per bigEndian.
func (s slice) elems(bigEndian bool) []*dicom.Element {
	if s.photometric == "" {
		s.photometric = "MONOCHROME2"
	}
	if s.bits == 0 {
		s.bits = 16
	}
	if s.stored == 0 {
		s.stored = s.bits
	}
	if s.samples == 0 {
		s.samples = 1
	}
	if s.sop == "" {
		s.sop = fmt.Sprintf("%s.%d", s.series, s.number)
	}
	rep := 0
	if s.signed {
		rep = 1
	}
	out := []*dicom.Element{
		el(tag.SOPClassUID, []string{mrClass}), el(tag.SOPInstanceUID, []string{s.sop}),
		el(tag.StudyInstanceUID, []string{s.study}), el(tag.SeriesInstanceUID, []string{s.series}),
		el(tag.Modality, []string{"MR"}), el(tag.PatientName, []string{"Test^Patient"}),
		el(tag.PatientID, []string{"P1"}), el(tag.InstanceNumber, is(s.number)),
		el(tag.Rows, []int{s.rows}), el(tag.Columns, []int{s.cols}),
		el(tag.SamplesPerPixel, []int{s.samples}), el(tag.PhotometricInterpretation, []string{s.photometric}),
		el(tag.BitsAllocated, []int{s.bits}), el(tag.BitsStored, []int{s.stored}),
		el(tag.HighBit, []int{s.stored - 1}), el(tag.PixelRepresentation, []int{rep}),
	}
	if s.samples == 3 {
		out = append(out, el(tag.PlanarConfiguration, []int{s.planar}))
	}
	if s.frames > 0 {
		out = append(out, el(tag.NumberOfFrames, is(s.frames)))
	}
	if s.position != nil {
		out = append(out, el(tag.ImagePositionPatient, ds(s.position[0], s.position[1], s.position[2])))
	}
	if s.orientation != nil {
		out = append(out, el(tag.ImageOrientationPatient, ds(s.orientation[:]...)))
	}
	if s.pixelSpacing != nil {
		out = append(out, el(tag.PixelSpacing, ds(s.pixelSpacing...)))
	}
	if s.thickness > 0 {
		out = append(out, el(tag.SliceThickness, ds(s.thickness)))
	}
	if s.slope != nil {
		out = append(out, el(tag.RescaleSlope, ds(*s.slope)))
	}
	if s.intercept != nil {
		out = append(out, el(tag.RescaleIntercept, ds(*s.intercept)))
	}
	if len(s.windows) > 0 {
		var c, w []float64
		for _, cw := range s.windows {
			c, w = append(c, cw[0]), append(w, cw[1])
		}
		out = append(out, el(tag.WindowCenter, ds(c...)), el(tag.WindowWidth, ds(w...)))
	}
	out = append(out, s.extra...)
	if s.values != nil {
		vr := "OW"
		if s.bits == 8 {
			vr = "OB"
		}
		out = append(out, nativePixels(packValues(s.values, s.bits, bigEndian), vr))
	}
	return out
}

// packValues stores values in containers of bits bits (1, 8, 16 or 32).
func packValues(values []int, bits int, bigEndian bool) []byte {
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	switch bits {
	case 1:
		out := make([]byte, (len(values)+7)/8)
		for i, v := range values {
			if v != 0 {
				out[i/8] |= 1 << (i % 8)
			}
		}
		return out
	case 8:
		out := make([]byte, len(values))
		for i, v := range values {
			out[i] = byte(v)
		}
		return out
	case 16:
		out := make([]byte, 2*len(values))
		for i, v := range values {
			order.PutUint16(out[2*i:], uint16(v))
		}
		return out
	default:
		out := make([]byte, 4*len(values))
		for i, v := range values {
			order.PutUint32(out[4*i:], uint32(v))
		}
		return out
	}
}

// ramp is n values from start, step apart.
func ramp(n, start, step int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i*step
	}
	return out
}

func TestParseFileHeader(t *testing.T) {
	dir := t.TempDir()
	s := slice{study: "1.2.3", series: "1.2.3.4", number: 7, rows: 2, cols: 3, position: &Vec3{-10, 20, 30.5},
		orientation: &axial, pixelSpacing: []float64{0.5, 0.7}, thickness: 3, signed: true,
		values: ramp(6, -3, 1), windows: [][2]float64{{40, 400}, {100, 50}},
		extra: []*dicom.Element{
			el(tag.PatientBirthDate, []string{"19700102"}), el(tag.PatientSex, []string{"F"}),
			el(tag.StudyDate, []string{"20240315"}), el(tag.StudyTime, []string{"101500"}),
			el(tag.StudyDescription, []string{"Brain tumour"}), el(tag.AccessionNumber, []string{"ACC9"}),
			el(tag.SeriesNumber, is(5)), el(tag.SeriesDescription, []string{"ax T2 FLAIR"}),
			el(tag.FrameOfReferenceUID, []string{"1.2.3.9"}), el(tag.ProtocolName, []string{"flair_ax"}),
			el(tag.SequenceName, []string{"*tir2d1"}), el(tag.ScanningSequence, []string{"SE", "IR"}),
			el(tag.EchoTime, ds(81)), el(tag.RepetitionTime, ds(9000)), el(tag.InversionTime, ds(2500)),
			el(tag.ContrastBolusAgent, []string{""}),
			el(tag.WindowCenterWidthExplanation, []string{"BRAIN", "SOFT"}),
		}}
	for _, ts := range []string{tsImplicit, tsExplicit, tsBig, tsDeflated} {
		t.Run(ts, func(t *testing.T) {
			path := writeDICOM(t, filepath.Join(dir, ts+".dcm"), ts, s.elems(ts == tsBig))
			f, err := ParseFile(path, WithPixelData())
			if err != nil {
				t.Fatal(err)
			}
			st, se, in := f.Study, f.Series, f.Instance
			if st.UID != "1.2.3" || st.PatientName != "Test^Patient" || st.PatientID != "P1" || st.PatientBirthDate != "19700102" ||
				st.PatientSex != "F" || st.StudyDate != "20240315" || st.StudyTime != "101500" || st.Description != "Brain tumour" ||
				st.AccessionNumber != "ACC9" || st.Series != nil {
				t.Errorf("study fields: %+v", st)
			}
			if se.UID != "1.2.3.4" || se.StudyUID != "1.2.3" || se.Number != 5 || se.Modality != "MR" ||
				se.Description != "ax T2 FLAIR" || se.FrameOfReferenceUID != "1.2.3.9" || se.Instances != nil {
				t.Errorf("series fields: %+v", se)
			}
			want := SeriesHints{Modality: "MR", SeriesDescription: "ax T2 FLAIR", ProtocolName: "flair_ax", SequenceName: "*tir2d1",
				ScanningSequence: `SE\IR`, EchoTime: 81, RepetitionTime: 9000, InversionTime: 2500}
			if se.Hints != want || se.Type != FLAIR {
				t.Errorf("hints %+v type %s, want %+v FLAIR", se.Hints, se.Type, want)
			}
			if in.SOPInstanceUID != "1.2.3.4.7" || in.SOPClassUID != mrClass || in.TransferSyntax != ts || in.Number != 7 ||
				in.Rows != 2 || in.Columns != 3 || in.Frames != 1 || in.Position != (Vec3{-10, 20, 30.5}) ||
				in.Orientation != [2]Vec3{{1, 0, 0}, {0, 1, 0}} || in.PixelSpacing != [2]float64{0.5, 0.7} || !in.HasPosition ||
				in.Path != path {
				t.Errorf("instance fields: %+v", in)
			}
			wantW := []Window{{Center: 40, Width: 400, Name: "BRAIN"}, {Center: 100, Width: 50, Name: "SOFT"}}
			if !slices.Equal(f.Windows, wantW) {
				t.Errorf("windows %v, want %v", f.Windows, wantW)
			}
			got := make([]float32, 6)
			fd, err := f.frameData()
			if err != nil {
				t.Fatal(err)
			}
			var scratch []byte
			if err := decodeFrame(got, f, 0, fd, identity, false, &scratch); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, []float32{-3, -2, -1, 0, 1, 2}) {
				t.Errorf("pixels %v", got)
			}
		})
	}
}

func TestParseFileRejects(t *testing.T) {
	dir := t.TempDir()
	img := slice{study: "1", series: "1.1", number: 1, rows: 4, cols: 4, values: ramp(16, 0, 1)}
	good, err := encodeDICOM(tsExplicit, img.elems(false))
	if err != nil {
		t.Fatal(err)
	}
	pixelAt := bytes.LastIndex(good, []byte{0xE0, 0x7F, 0x10, 0x00})
	sr := []*dicom.Element{el(tag.SOPClassUID, []string{"1.2.840.10008.5.1.4.1.1.88.11"}), el(tag.SOPInstanceUID, []string{"9"}),
		el(tag.StudyInstanceUID, []string{"1"}), el(tag.SeriesInstanceUID, []string{"2"}), el(tag.Modality, []string{"SR"})}
	srFile, _ := encodeDICOM(tsExplicit, sr)
	dirFile, _ := encodeDICOM(tsExplicit, []*dicom.Element{el(tag.SOPClassUID, []string{"1.2.840.10008.1.3.10"}), el(tag.SOPInstanceUID, []string{"9"})})
	unknownTS, _ := encodeDICOM(tsExplicit, img.elems(false))
	unknownTS = bytes.Replace(unknownTS, []byte(tsExplicit+"\x00"), []byte("1.2.3.4.5.6.7.8.9.0"), 1)
	manyFrames := img
	manyFrames.frames = 1000
	manyFramesFile, _ := encodeDICOM(tsExplicit, manyFrames.elems(false))
	huge := img
	huge.rows, huge.cols, huge.frames, huge.values = 60000, 60000, 400, nil
	hugeElems := append(huge.elems(false), nativePixels(make([]byte, 32), "OW"))
	hugeFile, _ := encodeDICOM(tsExplicit, hugeElems)

	cases := []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"text file", []byte("hello, this is not an image\n"), ErrNotDICOM, `no "DICM" prefix`},
		{"short file", good[:100], ErrNotDICOM, `no "DICM" prefix`},
		{"cut in the header", good[:pixelAt-5], ErrTruncated, "needs"},
		{"cut in the pixel data", good[:len(good)-7], ErrTruncated, "pixel data declares 32 bytes"},
		{"cut before the pixel data", good[:pixelAt], ErrTruncated, "expected 32 bytes, found 0"},
		{"pixel data shorter than the image", shortenPixels(good, pixelAt, 8), ErrTruncated, "pixel data has 24 bytes, expected 32"},
		{"frames beyond the file", manyFramesFile, ErrTruncated, "need 32000 pixel bytes"},
		{"dimensions beyond the memory limit", hugeFile, nil, "memory limit"},
		{"structured report", srFile, ErrNoPixels, "Basic Text SR Storage"},
		{"DICOMDIR", dirFile, ErrNoPixels, "DICOMDIR"},
		{"unknown transfer syntax", unknownTS, ErrUnsupportedTransferSyntax, "1.2.3.4.5.6.7.8.9.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, opts := range [][]Option{nil, {WithPixelData()}} {
				_, err := ParseFile(path, opts...)
				if err == nil {
					t.Fatalf("no error (options %d)", len(opts))
				}
				if c.want != nil && !errors.Is(err, c.want) {
					t.Errorf("error %q is not %v", err, c.want)
				}
				if !strings.Contains(err.Error(), c.text) || !strings.Contains(err.Error(), path) {
					t.Errorf("error %q should name the file and say %q", err, c.text)
				}
			}
		})
	}
}

// shortenPixels cuts the native pixel data element at pixelAt (explicit VR: tag, "OW", 2 reserved bytes,
// 4-byte length) down by cut bytes, fixing its length.
func shortenPixels(file []byte, pixelAt, cut int) []byte {
	out := slices.Clone(file[:len(file)-cut])
	n := binary.LittleEndian.Uint32(out[pixelAt+8:])
	binary.LittleEndian.PutUint32(out[pixelAt+8:], n-uint32(cut))
	return out
}

func TestParseFileImplicitDatasetUnderExplicitSyntax(t *testing.T) {
	// Some writers put an implicit VR dataset under an explicit VR transfer syntax; pydicom reads it, so do we.
	img := slice{study: "1", series: "1.1", number: 1, rows: 2, cols: 2, values: []int{1, 2, 3, 4}}
	implicit, err := encodeDICOM(tsImplicit, img.elems(false))
	if err != nil {
		t.Fatal(err)
	}
	mislabelled, _ := setMetaTransferSyntax(implicit, tsExplicit)
	path := filepath.Join(t.TempDir(), "mislabelled.dcm")
	os.WriteFile(path, mislabelled, 0o644)
	f, err := ParseFile(path, WithPixelData())
	if err != nil {
		t.Fatal(err)
	}
	if f.Instance.TransferSyntax != tsExplicit || f.Instance.Rows != 2 || f.Study.UID != "1" {
		t.Errorf("parsed %+v", f.Instance)
	}
	got := decodeAll(t, f, identity, false)
	if !slices.Equal(got, []float32{1, 2, 3, 4}) {
		t.Errorf("pixels %v", got)
	}
}

// decodeAll decodes every frame of a file parsed WithPixelData.
func decodeAll(t testing.TB, f *File, m affine, toRGB bool) []float32 {
	t.Helper()
	fd, err := f.frameData()
	if err != nil {
		t.Fatal(err)
	}
	n := f.pix.rows * f.pix.cols * f.pix.samples
	out := make([]float32, n*f.pix.frames)
	var scratch []byte
	for i := 0; i < f.pix.frames; i++ {
		if err := decodeFrame(out[i*n:(i+1)*n], f, i, fd, m, toRGB, &scratch); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	return out
}

func TestParseFileUNValues(t *testing.T) {
	// Some converters store every attribute with VR UN; they are read by their dictionary VR, as pydicom does.
	img := slice{study: "1", series: "1.1", number: 1, rows: 2, cols: 2, values: []int{1, 2, 3, 4}, position: &Vec3{1, 2, 3},
		orientation: &axial, pixelSpacing: []float64{0.5, 0.5}}
	elems := img.elems(false)
	for i, e := range elems {
		switch e.Tag {
		case tag.ImagePositionPatient, tag.InstanceNumber, tag.Rows:
			var b bytes.Buffer
			w := bufio.NewWriter(&b)
			if e.Tag == tag.Rows {
				binary.Write(w, binary.LittleEndian, uint16(2))
			} else {
				w.WriteString(strings.Join(dicomkit.Strings(e), `\`))
			}
			w.Flush()
			raw := b.Bytes()
			if len(raw)%2 == 1 {
				raw = append(raw, ' ')
			}
			elems[i] = &dicom.Element{Tag: e.Tag, RawValueRepresentation: "UN", ValueRepresentation: tag.VRUnknown,
				Value: must(dicom.NewValue(raw))}
		}
	}
	path := writeDICOM(t, filepath.Join(t.TempDir(), "un.dcm"), tsExplicit, elems)
	f, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Instance.Number != 1 || f.Instance.Position != (Vec3{1, 2, 3}) || f.Instance.Rows != 2 || len(f.warnings) != 0 {
		t.Errorf("instance %+v, warnings %v", f.Instance, f.warnings)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
