package viewer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer/nifti"
)

// LoadNIfTI reads a 3-D NIfTI-1 file (.nii, .nii.gz) as a grey-scale volume in patient LPS coordinates.
func LoadNIfTI(path string) (*Volume, error) {
	im, err := nifti.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return volumeFromNIfTI(path, im)
}

// LoadNIfTILabels reads a NIfTI-1 tumour label map: 0 background, 1 NCR, 2 ED, and 4 (BraTS up to 2021)
// or 3 (BraTS 2023) ET, both mapped to LabelET. Any other value is an error that names it.
func LoadNIfTILabels(path string) (*LabelMap, error) {
	im, err := nifti.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return labelsFromNIfTI(path, im)
}

// GeometryFromNIfTI converts a NIfTI affine (RAS+ world) to a Geometry in DICOM LPS: x and y are negated.
// It fails when the affine is sheared, which a Geometry cannot express.
func GeometryFromNIfTI(size [3]int, a nifti.Affine) (Geometry, error) {
	g := Geometry{Size: size}
	spacing := a.Spacing()
	for c := 0; c < 3; c++ {
		col := a.Column(c)
		g.Spacing[c] = spacing[c]
		g.Direction[c] = Vec3{-col[0], -col[1], col[2]}.Scale(1 / spacing[c])
	}
	t := a.Column(3)
	g.Origin = Vec3{-t[0], -t[1], t[2]}
	if err := g.Validate(); err != nil {
		return g, fmt.Errorf("NIfTI affine %v: %w", a, err)
	}
	return g, nil
}

// NIfTIAffine is the NIfTI (RAS+) affine of a geometry: the inverse of GeometryFromNIfTI.
func NIfTIAffine(g Geometry) nifti.Affine {
	var a nifti.Affine
	ras := func(v Vec3) Vec3 { return Vec3{-v[0], -v[1], v[2]} }
	for c := 0; c < 3; c++ {
		col := ras(g.Direction[c].Scale(g.Spacing[c]))
		for r := 0; r < 3; r++ {
			a[r][c] = col[r]
		}
	}
	o := ras(g.Origin)
	for r := 0; r < 3; r++ {
		a[r][3] = o[r]
	}
	return a
}

func volumeFromNIfTI(name string, im *nifti.Image) (*Volume, error) {
	if im.Frames != 1 {
		return nil, fmt.Errorf("%s: %d frames: only 3-D NIfTI images are read as volumes", name, im.Frames)
	}
	g, err := GeometryFromNIfTI(im.Size, im.Affine)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i, x := range im.Data {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%s: voxel %d is %v", name, i, x)
		}
	}
	return &Volume{Geometry: g, Samples: 1, Data: im.Data}, nil
}

func labelsFromNIfTI(name string, im *nifti.Image) (*LabelMap, error) {
	if im.Frames != 1 {
		return nil, fmt.Errorf("%s: %d frames: a label map must be 3-D", name, im.Frames)
	}
	g, err := GeometryFromNIfTI(im.Size, im.Affine)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m := NewLabelMap(g)
	m.Source = "ground truth (NIfTI " + filepath.Base(name) + ")"
	for n, x := range im.Data {
		switch x {
		case 0, 1, 2:
			m.Data[n] = uint8(x)
		case 3, 4:
			m.Data[n] = LabelET
		default:
			i, j, k := n%g.Size[0], n/g.Size[0]%g.Size[1], n/(g.Size[0]*g.Size[1])
			return nil, fmt.Errorf("%s: label %v at voxel (%d, %d, %d) is not a BraTS label (0, 1, 2, 3 or 4)", name, x, i, j, k)
		}
	}
	return m, nil
}

// SaveNIfTI writes a grey-scale volume as NIfTI-1 (.nii or .nii.gz) with sform and qform set: int16 when
// every value is a whole number in its range, float32 otherwise, so values are stored exactly.
func SaveNIfTI(path string, v *Volume) error {
	if err := v.Check(); err != nil {
		return err
	}
	if v.Samples != 1 {
		return fmt.Errorf("save NIfTI %s: %d samples per voxel, only grey-scale volumes are written", path, v.Samples)
	}
	dt := nifti.Int16
	for _, x := range v.Data {
		if x != float32(math.Trunc(float64(x))) || x < math.MinInt16 || x > math.MaxInt16 {
			dt = nifti.Float32
			break
		}
	}
	return nifti.WriteFile(path, nifti.NewImage(v.Size, NIfTIAffine(v.Geometry), dt, v.Data))
}

// SaveNIfTILabels writes a label map as uint8 NIfTI-1 with NeuroNova's values (ET = 3, as BraTS 2023 stores it).
func SaveNIfTILabels(path string, m *LabelMap) error {
	if err := m.Check(); err != nil {
		return err
	}
	data := make([]float32, len(m.Data))
	for i, x := range m.Data {
		data[i] = float32(x)
	}
	im := nifti.NewImage(m.Size, NIfTIAffine(m.Geometry), nifti.Uint8, data)
	im.Header.Description = "labels: 1 NCR, 2 ED, 3 ET"
	return nifti.WriteFile(path, im)
}

// bratsFile is one NIfTI file of a BraTS folder.
type bratsFile struct {
	path, stem string
	typ        SeriesType
}

// niftiStem returns a file name without .nii or .nii.gz, and whether it has one of them.
func niftiStem(name string) (string, bool) {
	lower := strings.ToLower(name)
	for _, ext := range []string{".nii.gz", ".nii"} {
		if strings.HasSuffix(lower, ext) {
			return name[:len(name)-len(ext)], true
		}
	}
	return "", false
}

// findBraTSFiles types every NIfTI file in dir with Classify on its stem and returns the T1, T1CE, T2,
// FLAIR and SEG files; files of other types are ignored, two files of one type are an error.
func findBraTSFiles(dir string) (map[SeriesType]bratsFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	found := map[SeriesType]bratsFile{}
	for _, e := range entries {
		stem, ok := niftiStem(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		t := Classify(SeriesHints{Modality: "MR", SeriesDescription: stem})
		if t != SEG && !slices.Contains(BrainTumourTypes, t) {
			continue
		}
		if prev, dup := found[t]; dup {
			return nil, fmt.Errorf("BraTS folder %s: both %s and %s are %s", dir, filepath.Base(prev.path), e.Name(), t)
		}
		found[t] = bratsFile{path: filepath.Join(dir, e.Name()), stem: stem, typ: t}
	}
	return found, nil
}

// IsBraTSDir reports whether dir holds the four BraTS sequences (T1, T1CE, T2, FLAIR) as NIfTI files. It
// reads only the folder listing.
func IsBraTSDir(dir string) bool {
	found, err := findBraTSFiles(dir)
	if err != nil {
		return false
	}
	for _, t := range BrainTumourTypes {
		if _, ok := found[t]; !ok {
			return false
		}
	}
	return true
}

// subjectName is the part of the file stems they share, up to its last separator: "sub-0004" for
// sub-0004_T1w …, "BraTS-GLI-00000-000" for BraTS-GLI-00000-000-t1c ….
func subjectName(stems []string) string {
	prefix := stems[0]
	for _, s := range stems[1:] {
		n := 0
		for n < len(prefix) && n < len(s) && prefix[n] == s[n] {
			n++
		}
		prefix = prefix[:n]
	}
	if i := strings.LastIndexAny(prefix, "_-."); i >= 0 {
		prefix = prefix[:i]
	}
	return prefix
}

// LoadBraTS reads a BraTS-style folder: four NIfTI sequences named *_t1, *_t1ce, *_t2, *_flair (or *_T1w,
// *_ce-T1w, *_T2w, *_FLAIR, or BraTS 2023's -t1n, -t1c, -t2w, -t2f) and an optional *_seg label map. The
// study has one series per sequence, in the order of BrainTumourTypes, typed by Classify on the file stem,
// and the labels as Study.Labels. Every image must lie on the same grid. UIDs derive from the files'
// contents, so reading the folder again gives the same UIDs.
func LoadBraTS(dir string) (*Study, error) {
	found, err := findBraTSFiles(dir)
	if err != nil {
		return nil, err
	}
	var files []bratsFile
	for _, t := range append(slices.Clone(BrainTumourTypes), SEG) {
		f, ok := found[t]
		if !ok && t != SEG {
			return nil, fmt.Errorf("BraTS folder %s: no %s image (want *_t1, *_t1ce, *_t2, *_flair or *_T1w, *_ce-T1w, *_T2w, *_FLAIR .nii[.gz])", dir, t)
		}
		if ok {
			files = append(files, f)
		}
	}

	images := make([]*nifti.Image, len(files))
	sums := make([]string, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for n, f := range files {
		wg.Go(func() {
			raw, err := os.ReadFile(f.path)
			if err != nil {
				errs[n] = err
				return
			}
			sum := sha256.Sum256(raw)
			sums[n] = hex.EncodeToString(sum[:])
			if images[n], err = nifti.Decode(bytes.NewReader(raw)); err != nil {
				errs[n] = fmt.Errorf("%s: %w", f.path, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("BraTS folder %s: %w", dir, err)
		}
	}

	stems := make([]string, len(files))
	content := []string{"neuronova", "brats"}
	for n, f := range files {
		stems[n] = f.stem
		content = append(content, filepath.Base(f.path), sums[n])
	}
	subject := subjectName(stems)
	studyKey := dicomkit.DeterministicUID(content...)
	st := &Study{
		UID:         dicomkit.DeterministicUID(studyKey, "study"),
		PatientName: subject,
		PatientID:   subject,
		Description: "BraTS " + subject,
	}
	frameUID := dicomkit.DeterministicUID(studyKey, "frame of reference")
	for n, f := range files {
		if f.typ == SEG {
			if st.Labels, err = labelsFromNIfTI(f.path, images[n]); err != nil {
				return nil, err
			}
			continue
		}
		v, err := volumeFromNIfTI(f.path, images[n])
		if err != nil {
			return nil, err
		}
		se := NewVolumeSeries(dicomkit.DeterministicUID(studyKey, "series", f.stem), f.stem, f.typ, v)
		se.StudyUID = st.UID
		se.Number = n + 1
		se.FrameOfReferenceUID = frameUID
		st.Series = append(st.Series, se)
	}
	ref, _ := st.Series[0].InMemory()
	offGrid := func(name string, g Geometry) error {
		return fmt.Errorf("BraTS folder %s: %s (size %v, origin %v, spacing %v) is not on the grid of %s (size %v, origin %v, spacing %v)",
			dir, name, g.Size, g.Origin, g.Spacing, filepath.Base(files[0].path), ref.Size, ref.Origin, ref.Spacing)
	}
	for n, se := range st.Series[1:] {
		if v, _ := se.InMemory(); !v.SameGrid(ref.Geometry, 1e-3) {
			return nil, offGrid(filepath.Base(files[n+1].path), v.Geometry)
		}
	}
	if st.Labels != nil && !st.Labels.SameGrid(ref.Geometry, 1e-3) {
		return nil, offGrid(filepath.Base(found[SEG].path), st.Labels.Geometry)
	}
	return st, nil
}
