package viewer

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/neuronova/neuronova/internal/progress"
)

// ScanResult is what Scan found: the studies, with their series ordered and checked, and the files it
// could not use, each with the reason.
type ScanResult struct {
	Studies  []*Study
	Rejected []Rejected
}

// Rejected is a file Scan left out, and why.
type Rejected struct {
	Path string
	Err  error
}

// Scan parses the DICOM files at paths (files, or folders searched recursively; symbolic links to folders
// are not followed) on one worker per CPU, and groups them into studies and series by UID. Files that are
// not DICOM images are listed in Rejected with the reason. It stops early, returning ctx's error, when ctx
// is cancelled. Options: WithPixelData, WithProgress, WithMemoryLimit.
func Scan(ctx context.Context, paths []string, opts ...Option) (*ScanResult, error) {
	cfg := newConfig(opts)
	res := &ScanResult{}
	var names []string
	seen := make(map[string]bool)
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if err != nil {
				res.Rejected = append(res.Rejected, Rejected{Path: path, Err: err})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || seen[path] {
				return nil
			}
			seen[path] = true
			names = append(names, path)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	parsed := make([]*File, len(names))
	errs := make([]error, len(names))
	prog := progress.New(cfg.progress, len(names))
	err := forEach(ctx, len(names), func(_, i int) error {
		parsed[i], errs[i] = parseFileConfig(names[i], &cfg)
		prog.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var files []*File
	for i, f := range parsed {
		switch {
		case errs[i] != nil:
			res.Rejected = append(res.Rejected, Rejected{Path: names[i], Err: errs[i]})
		case f.Study.UID == "" || f.Series.UID == "":
			res.Rejected = append(res.Rejected, Rejected{Path: names[i],
				Err: fmt.Errorf("%s: no StudyInstanceUID or SeriesInstanceUID: cannot be grouped", names[i])})
		default:
			files = append(files, f)
		}
	}
	res.Studies = GroupFiles(files)
	return res, nil
}

// parseFileConfig is ParseFile with a ready configuration. The file is read once: whole when its pixels are
// kept, else its first headBytes (where headers lie), and more only when the header runs past them.
func parseFileConfig(path string, cfg *config) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: not a regular file", path, ErrNotDICOM)
	}
	size := st.Size()
	n := min(size, headBytes)
	if cfg.keepPixels && size <= cfg.memoryLimit {
		n = size
	}
	head := make([]byte, n)
	if _, err := io.ReadFull(io.NewSectionReader(fh, 0, n), head); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var r io.ReaderAt = memFile(head)
	if n < size {
		r = &headReader{head: head, r: fh}
	}
	f, err := parseNamed(r, size, path, cfg)
	if err != nil {
		return nil, err
	}
	f.stamp = fileStamp{size, st.ModTime()}
	return f, nil
}

// headBytes is how much of a file a header scan reads at once: most MR headers are shorter.
const headBytes = 16 << 10

// headReader reads a file through the copy of its first bytes it holds.
type headReader struct {
	head []byte
	r    io.ReaderAt
}

func (h *headReader) ReadAt(b []byte, off int64) (int, error) {
	if off >= 0 && off+int64(len(b)) <= int64(len(h.head)) {
		return copy(b, h.head[off:]), nil
	}
	return h.r.ReadAt(b, off)
}

// GroupFiles groups parsed files into studies and series by StudyInstanceUID and SeriesInstanceUID, orders
// each series' instances along the slice normal and fills Series.Problems. DICOM Segmentations go to their
// study's SEGs, not to a series. Studies come in date order (undated ones last), series in number order.
func GroupFiles(files []*File) []*Study {
	var studies []*Study
	byStudy := make(map[string]*Study)
	bySeries := make(map[[2]string]*Series)
	for _, f := range files {
		st := byStudy[f.Study.UID]
		if st == nil {
			s := f.Study
			s.Series = nil
			st = &s
			byStudy[f.Study.UID] = st
			studies = append(studies, st)
		}
		if f.Instance.IsSEG() {
			st.SEGs = append(st.SEGs, SEGFileOf(&f.Series, &f.Instance))
			continue
		}
		key := [2]string{f.Study.UID, f.Series.UID}
		se := bySeries[key]
		if se == nil {
			s := f.Series
			s.Instances, s.Problems = nil, nil
			se = &s
			bySeries[key] = se
			st.Series = append(st.Series, se)
		}
		inst := &f.Instance
		inst.file = f
		se.Instances = append(se.Instances, inst)
	}
	for _, st := range studies {
		for _, se := range st.Series {
			orderSeries(se)
		}
		slices.SortStableFunc(st.Series, func(a, b *Series) int {
			return cmp.Or(cmp.Compare(a.Number, b.Number), strings.Compare(a.UID, b.UID))
		})
	}
	slices.SortStableFunc(studies, func(a, b *Study) int {
		undated := func(s *Study) int {
			if s.StudyDate == "" {
				return 1
			}
			return 0
		}
		return cmp.Or(cmp.Compare(undated(a), undated(b)), strings.Compare(a.StudyDate, b.StudyDate),
			strings.Compare(a.StudyTime, b.StudyTime), strings.Compare(a.UID, b.UID))
	})
	return studies
}

// orderSeries sorts a series' instances in slice order and records its problems.
func orderSeries(se *Series) {
	files := make([]*File, len(se.Instances))
	for i, inst := range se.Instances {
		files[i] = inst.file
	}
	st, err := arrange(files)
	if err != nil {
		se.Problems = append(st.problems, err.Error())
		return
	}
	se.Problems, se.Grid = st.problems, st.geom
	rank := make(map[*File]int, len(files))
	for _, sl := range st.slices {
		if _, ok := rank[sl.f]; !ok {
			rank[sl.f] = len(rank)
		}
	}
	slices.SortStableFunc(se.Instances, func(a, b *Instance) int {
		ra, oka := rank[a.file]
		rb, okb := rank[b.file]
		switch {
		case oka && okb:
			return cmp.Compare(ra, rb)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
}

// stackSlice is one frame of one file, placed in a volume.
type stackSlice struct {
	f     *File
	frame int
	fi    *frameInfo
	d     float64 // position along the slice normal (mm)
}

func (s stackSlice) name() string {
	n := filepath.Base(s.f.Instance.Path)
	if s.f.Instance.Number != 0 {
		n += fmt.Sprintf(" #%d", s.f.Instance.Number)
	}
	if s.f.pix.frames > 1 {
		n += fmt.Sprintf(" frame %d", s.frame+1)
	}
	return n
}

// stack is the slices of a series in volume order, the grid they form and what is wrong with it.
type stack struct {
	slices   []stackSlice
	geom     Geometry
	samples  int
	problems []string
}

// Tolerances of the geometry checks, in millimetres.
const (
	duplicateTol = 0.01 // slices closer than this along the normal are duplicates
	directionTol = 1e-3 // orientation cosines that differ by more are different orientations
)

// arrange orders the frames of files along the slice normal (ImagePositionPatient · the normal of
// ImageOrientationPatient), or by InstanceNumber when positions are missing, and derives the volume's grid:
// in-plane spacing from PixelSpacing, slice spacing from the positions. It reports gaps, irregular spacing,
// duplicates and mixed geometry as problems; it fails only when the images cannot be stacked at all.
func arrange(files []*File) (*stack, error) {
	st := &stack{}
	all, err := st.collect(files)
	if err != nil {
		return st, err
	}
	first := all[0].f.pix
	st.samples = first.samples
	ori, haveOri, positioned := orientation(all)
	row, col := IdentityDirection[0], IdentityDirection[1]
	if haveOri {
		row = ori[0].Unit()
		col = ori[1].Sub(row.Scale(ori[1].Dot(row))).Unit()
	}
	normal := row.Cross(col).Unit()
	var dz float64
	if positioned == len(all) {
		all, dz = st.orderByPosition(all, ori, normal)
	} else {
		dz = st.orderByNumber(all, positioned, len(files) == 1)
	}
	ps := st.pixelSpacing(all)
	var origin Vec3
	if all[0].fi.hasPosition {
		origin = all[0].fi.position
	}
	st.slices = all
	st.geom = Geometry{
		Size:      [3]int{first.cols, first.rows, len(all)},
		Spacing:   Vec3{ps[1], ps[0], dz},
		Origin:    origin,
		Direction: [3]Vec3{row, col, normal},
	}
	return st, nil
}

// collect gathers the frames of files as slices, with the files' warnings and repeated SOP Instance UIDs as
// problems; images of different sizes cannot be stacked.
func (st *stack) collect(files []*File) ([]stackSlice, error) {
	var all []stackSlice
	sizes := make(map[[3]int]int)
	sopSeen := make(map[string]string)
	for _, f := range files {
		for _, w := range f.warnings {
			st.problems = append(st.problems, filepath.Base(f.Instance.Path)+": "+w)
		}
		if u := f.Instance.SOPInstanceUID; u != "" {
			if other, dup := sopSeen[u]; dup {
				st.problems = append(st.problems, fmt.Sprintf("duplicate SOP Instance UID %s in %s and %s", u, other, filepath.Base(f.Instance.Path)))
			}
			sopSeen[u] = filepath.Base(f.Instance.Path)
		}
		sizes[[3]int{f.pix.cols, f.pix.rows, f.pix.samples}] += 1
		for i := range f.frames {
			all = append(all, stackSlice{f: f, frame: i, fi: &f.frames[i]})
		}
	}
	if len(all) == 0 {
		return nil, ErrNoPixels
	}
	if len(sizes) > 1 {
		var parts []string
		for sz, n := range sizes {
			parts = append(parts, fmt.Sprintf("%d×%d×%d samples in %d files", sz[0], sz[1], sz[2], n))
		}
		sort.Strings(parts)
		return nil, fmt.Errorf("mixed geometry: images of different sizes cannot form one volume (%s)", strings.Join(parts, ", "))
	}
	return all, nil
}

// orientation is the first ImageOrientationPatient of the slices, whether there is one, and how many slices
// have both a position and an orientation.
func orientation(all []stackSlice) (ori [2]Vec3, ok bool, positioned int) {
	for _, s := range all {
		if s.fi.hasOrientation && !ok {
			ori, ok = s.fi.orientation, true
		}
		if s.fi.hasPosition && s.fi.hasOrientation {
			positioned++
		}
	}
	return ori, ok, positioned
}

// orderByPosition sorts slices that all have a position along normal, drops duplicates and returns the
// slice spacing; orientations that differ from ori are reported.
func (st *stack) orderByPosition(all []stackSlice, ori [2]Vec3, normal Vec3) ([]stackSlice, float64) {
	mixed := 0
	for i := range all {
		o := all[i].fi.orientation
		if o[0].Sub(ori[0]).Norm() > directionTol || o[1].Sub(ori[1]).Norm() > directionTol {
			mixed++
		}
		all[i].d = all[i].fi.position.Dot(normal)
	}
	if mixed > 0 {
		st.problems = append(st.problems, fmt.Sprintf("mixed geometry: %d of %d slices have a different ImageOrientationPatient; they are stacked as if parallel", mixed, len(all)))
	}
	slices.SortStableFunc(all, func(a, b stackSlice) int {
		return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.f.Instance.Number, b.f.Instance.Number),
			strings.Compare(a.f.Instance.Path, b.f.Instance.Path), cmp.Compare(a.frame, b.frame))
	})
	all = st.dropDuplicates(all)
	dz := st.sliceSpacing(all)
	st.checkAlignment(all, normal)
	return all, dz
}

// orderByNumber sorts slices of which only positioned have a position by InstanceNumber and returns the
// slice spacing the header suggests. One multi-frame file's warnings already say how its frames were
// stacked, so it adds no problems.
func (st *stack) orderByNumber(all []stackSlice, positioned int, oneFile bool) float64 {
	slices.SortStableFunc(all, func(a, b stackSlice) int {
		return cmp.Or(cmp.Compare(a.f.Instance.Number, b.f.Instance.Number),
			strings.Compare(a.f.Instance.Path, b.f.Instance.Path), cmp.Compare(a.frame, b.frame))
	})
	if len(all) > 1 && !oneFile {
		st.problems = append(st.problems, fmt.Sprintf("ordered by InstanceNumber: %d of %d slices lack ImagePositionPatient or ImageOrientationPatient", len(all)-positioned, len(all)))
		repeated := 0
		for i := 1; i < len(all); i++ {
			if all[i].f != all[i-1].f && all[i].f.Instance.Number == all[i-1].f.Instance.Number {
				repeated++
			}
		}
		if repeated > 0 {
			st.problems = append(st.problems, fmt.Sprintf("InstanceNumber is missing or repeated in %d files: ties follow file names", repeated+1))
		}
	}
	dz, from := fallbackSpacing(all[0].fi)
	if len(all) > 1 && !oneFile {
		st.problems = append(st.problems, fmt.Sprintf("slice spacing %g mm assumed (%s)", dz, from))
	}
	return dz
}

// pixelSpacing is the in-plane spacing of the first slice (1 mm when it has none); slices whose spacing
// differs are reported.
func (st *stack) pixelSpacing(all []stackSlice) [2]float64 {
	ps := all[0].fi.pixelSpacing
	if !all[0].fi.hasSpacing {
		ps = [2]float64{1, 1}
		st.problems = append(st.problems, "PixelSpacing missing: 1 mm assumed")
	}
	differ := 0
	for _, s := range all {
		if s.fi.hasSpacing && (math.Abs(s.fi.pixelSpacing[0]-ps[0]) > 1e-3 || math.Abs(s.fi.pixelSpacing[1]-ps[1]) > 1e-3) {
			differ++
		}
	}
	if differ > 0 {
		st.problems = append(st.problems, fmt.Sprintf("mixed geometry: PixelSpacing differs from %g×%g mm in %d slices", ps[0], ps[1], differ))
	}
	return ps
}

// fallbackSpacing is the slice spacing of a stack without positions, and where it came from.
func fallbackSpacing(fi *frameInfo) (float64, string) {
	switch {
	case fi.sliceSpacing > 0:
		return fi.sliceSpacing, "from SpacingBetweenSlices"
	case fi.sliceThickness > 0:
		return fi.sliceThickness, "from SliceThickness"
	}
	return 1, "no spacing attribute"
}

// dropDuplicates keeps the first of slices at the same position (sorted input) and reports the others.
func (st *stack) dropDuplicates(all []stackSlice) []stackSlice {
	out := all[:1]
	var dropped []string
	for _, s := range all[1:] {
		last := out[len(out)-1]
		if s.d-last.d < duplicateTol {
			dropped = append(dropped, fmt.Sprintf("%s (same position as %s)", s.name(), last.name()))
			continue
		}
		out = append(out, s)
	}
	if len(dropped) > 0 {
		list := dropped
		if len(list) > 5 {
			list = append(list[:5:5], fmt.Sprintf("and %d more", len(dropped)-5))
		}
		st.problems = append(st.problems, fmt.Sprintf("duplicates: %d slices share a position with another slice and were left out: %s",
			len(dropped), strings.Join(list, "; ")))
	}
	return out
}

// sliceSpacing derives the spacing between slices from their positions and reports gaps and irregular
// spacing. Regular stacks get the mean spacing, others the median.
func (st *stack) sliceSpacing(all []stackSlice) float64 {
	if len(all) < 2 {
		dz, _ := fallbackSpacing(all[0].fi)
		return dz
	}
	diffs := make([]float64, len(all)-1)
	for k := range diffs {
		diffs[k] = all[k+1].d - all[k].d
	}
	sorted := slices.Clone(diffs)
	slices.Sort(sorted)
	med := sorted[len(sorted)/2]
	var gaps []string
	lo, hi := sorted[0], sorted[len(sorted)-1]
	irregular := false
	for k, g := range diffs {
		switch {
		case g > 1.5*med:
			gaps = append(gaps, fmt.Sprintf("%.4g mm between %s and %s (about %d slices missing)",
				g, all[k].name(), all[k+1].name(), int(math.Round(g/med))-1))
		case math.Abs(g-med) > 0.1*med+1e-3:
			irregular = true
		}
	}
	if len(gaps) > 0 {
		st.problems = append(st.problems, fmt.Sprintf("gap: slices are %.4g mm apart but %s; the volume uses %.4g mm throughout",
			med, strings.Join(gaps, "; "), med))
	}
	if irregular {
		st.problems = append(st.problems, fmt.Sprintf("irregular slice spacing: from %.4g to %.4g mm; the volume uses %.4g mm", lo, hi, med))
	}
	if len(gaps) == 0 && !irregular {
		return (all[len(all)-1].d - all[0].d) / float64(len(all)-1)
	}
	return med
}

// checkAlignment reports slice positions that drift off the line along the normal (gantry tilt, shear).
func (st *stack) checkAlignment(all []stackSlice, normal Vec3) {
	p0 := all[0].fi.position
	worst := 0.0
	for _, s := range all {
		v := s.fi.position.Sub(p0)
		worst = max(worst, v.Sub(normal.Scale(v.Dot(normal))).Norm())
	}
	if worst > 0.05 {
		st.problems = append(st.problems, fmt.Sprintf("mixed geometry: slice positions drift up to %.3g mm off the slice normal (gantry tilt or a sheared stack); the volume ignores the drift", worst))
	}
}

// forEach calls fn(worker, i) for every i in [0, n) on up to GOMAXPROCS goroutines. It stops at the first
// error, or when ctx is cancelled, and returns that error.
func forEach(ctx context.Context, n int, fn func(worker, i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	var (
		next     atomic.Int64
		stop     atomic.Bool
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err })
		stop.Store(true)
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(w, i); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
