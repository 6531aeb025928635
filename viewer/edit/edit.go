// Package edit edits a label map by hand, one slice of a patient plane at a time: a brush (a disc of a radius
// in millimetres, optionally limited to an intensity range of the image underneath), an eraser and a 2D flood
// fill, each writing one active label. Every stroke is recorded as a diff (changed voxels with their old and new
// values) so that it can be undone and redone, and the voxel count of every label value is kept up to date with
// each change, so volumes are exact at all times without rescanning the map.
//
// Image coordinates and plane slices are those of viewer/render: pixel (px, py) covers [px, px+1) × [py, py+1)
// and render.Plane maps it to a voxel. The package is plain Go with no GUI dependency; an Editor is not safe for
// concurrent use (the UI drives it from one goroutine and renders from Map or a Snapshot).
package edit

import (
	"errors"
	"fmt"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// DefaultDepth is the number of strokes an Editor can undo unless told otherwise (Cornerstone3D keeps 50,
// 3D Slicer 10).
const DefaultDepth = 100

var (
	// ErrStrokeOpen reports an undo, redo or Begin while a stroke is being drawn.
	ErrStrokeOpen = errors.New("edit: a stroke is open (End it first)")
	// ErrNoStroke reports an End without a Begin.
	ErrNoStroke = errors.New("edit: no stroke is open")
	// ErrNothingToUndo reports an undo with an empty history.
	ErrNothingToUndo = errors.New("edit: nothing to undo")
	// ErrNothingToRedo reports a redo with nothing undone since the last stroke.
	ErrNothingToRedo = errors.New("edit: nothing to redo")
)

// step is one stroke: the voxels it changed, in the order it changed them.
type step struct {
	id   uint64
	name string
	at   []int
	old  []uint8
	new  []uint8
}

// Editor edits one label map in place.
type Editor struct {
	m      *viewer.LabelMap
	img    *viewer.Volume // nil when the map was opened without its image
	planes [3]render.Plane
	counts [256]int
	voxML  float64 // one voxel's volume in mL
	depth  int

	undo, redo []*step
	open       *step
	nextID     uint64
	floor      uint64 // id of the newest step dropped from the history (the state the oldest undo returns to)
	saved      uint64 // state at the last MarkSaved
	rev        uint64
}

// New returns an editor of m. img, when not nil, is the grey-scale image the map was drawn on (on the same
// grid); it is needed only for intensity-limited painting.
func New(m *viewer.LabelMap, img *viewer.Volume) (*Editor, error) {
	if m == nil {
		return nil, errors.New("edit: no label map")
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("edit: %w", err)
	}
	e := &Editor{m: m, counts: m.Counts(), voxML: m.VoxelVolume() / 1000, depth: DefaultDepth}
	if err := e.SetImage(img); err != nil {
		return nil, err
	}
	for o := render.Axial; o <= render.Sagittal; o++ {
		p, err := render.NewPlane(m.Geometry, o)
		if err != nil {
			return nil, fmt.Errorf("edit: %w", err)
		}
		e.planes[o] = p
	}
	return e, nil
}

// SetImage sets the grey-scale image, on the map's grid, that intensity limits read (nil: none): a map drawn
// over several series of one grid is limited by the one being painted on.
func (e *Editor) SetImage(img *viewer.Volume) error {
	if img != nil {
		if err := img.Check(); err != nil {
			return fmt.Errorf("edit: image: %w", err)
		}
		if img.Samples != 1 {
			return fmt.Errorf("edit: the image has %d samples per voxel; intensity limits need a grey-scale image", img.Samples)
		}
		if !img.Geometry.SameGrid(e.m.Geometry, 1e-3) {
			return fmt.Errorf("edit: the image grid %v is not the label map's %v", img.Size, e.m.Size)
		}
	}
	e.img = img
	return nil
}

// SetDepth sets how many strokes can be undone (at least 1); older ones are dropped first.
func (e *Editor) SetDepth(n int) error {
	if n < 1 {
		return fmt.Errorf("edit: undo depth %d (want at least 1)", n)
	}
	e.depth = n
	e.trim()
	return nil
}

// Map returns the label map being edited (the editor's own; read it, do not write it).
func (e *Editor) Map() *viewer.LabelMap { return e.m }

// Snapshot returns a copy of the map as it is now, for saving off the editing goroutine.
func (e *Editor) Snapshot() *viewer.LabelMap {
	c := *e.m
	c.Data = append([]uint8(nil), e.m.Data...)
	c.Labels = append([]viewer.Label(nil), e.m.Labels...)
	return &c
}

// Plane returns the plane of orientation o through the map's grid.
func (e *Editor) Plane(o render.Orientation) (render.Plane, error) {
	if o > render.Sagittal {
		return render.Plane{}, fmt.Errorf("edit: unknown orientation %d", uint8(o))
	}
	return e.planes[o], nil
}

// Revision grows with every change of the map (a painted voxel, an undo, a redo): redraw when it moves.
func (e *Editor) Revision() uint64 { return e.rev }

// Dirty reports whether the map differs from its state at the last MarkSaved (or at New): undoing back to
// the saved state makes it clean again.
func (e *Editor) Dirty() bool { return e.open != nil && len(e.open.at) > 0 || e.state() != e.saved }

// MarkSaved records the current state as saved.
func (e *Editor) MarkSaved() { e.saved = e.state() }

// state names the map's current state: the newest step in the history.
func (e *Editor) state() uint64 {
	if n := len(e.undo); n > 0 {
		return e.undo[n-1].id
	}
	return e.floor
}

// Voxels returns the number of voxels of label value v.
func (e *Editor) Voxels(v uint8) int { return e.counts[v] }

// VolumeML returns the volume of label value v in millilitres.
func (e *Editor) VolumeML(v uint8) float64 { return float64(e.counts[v]) * e.voxML }

// VoxelML returns one voxel's volume in millilitres (the product of the spacings / 1000).
func (e *Editor) VoxelML() float64 { return e.voxML }

// LabelVolume is the size of one label of the map.
type LabelVolume struct {
	viewer.Label
	Voxels int
	ML     float64
}

// Volumes returns the size of each of the map's labels, in the map's order.
func (e *Editor) Volumes() []LabelVolume {
	out := make([]LabelVolume, len(e.m.Labels))
	for n, l := range e.m.Labels {
		out[n] = LabelVolume{l, e.counts[l.Value], e.VolumeML(l.Value)}
	}
	return out
}

// Begin opens a stroke (one drag of a tool) named name ("brush", "erase", "fill" …): the changes until End
// are undone together.
func (e *Editor) Begin(name string) error {
	if e.open != nil {
		return ErrStrokeOpen
	}
	e.nextID++
	e.open = &step{id: e.nextID, name: name}
	return nil
}

// End closes the open stroke and returns the number of voxels it changed. A stroke that changed nothing is
// not kept (a click that paints nothing is not a step to undo); a kept one clears what could be redone.
func (e *Editor) End() (int, error) {
	s := e.open
	if s == nil {
		return 0, ErrNoStroke
	}
	e.open = nil
	if len(s.at) == 0 {
		return 0, nil
	}
	e.undo = append(e.undo, s)
	e.redo = nil
	e.trim()
	return len(s.at), nil
}

// trim drops the oldest steps beyond the depth.
func (e *Editor) trim() {
	if n := len(e.undo) - e.depth; n > 0 {
		e.floor = e.undo[n-1].id
		e.undo = append(e.undo[:0], e.undo[n:]...)
	}
}

// CanUndo and CanRedo report whether there is a stroke to undo or redo, and its name.
func (e *Editor) CanUndo() (string, bool) {
	if len(e.undo) == 0 || e.open != nil {
		return "", false
	}
	return e.undo[len(e.undo)-1].name, true
}

// CanRedo: see CanUndo.
func (e *Editor) CanRedo() (string, bool) {
	if len(e.redo) == 0 || e.open != nil {
		return "", false
	}
	return e.redo[len(e.redo)-1].name, true
}

// Undo reverts the newest stroke and returns its name.
func (e *Editor) Undo() (string, error) {
	if e.open != nil {
		return "", ErrStrokeOpen
	}
	if len(e.undo) == 0 {
		return "", ErrNothingToUndo
	}
	s := e.undo[len(e.undo)-1]
	e.undo = e.undo[:len(e.undo)-1]
	for j := len(s.at) - 1; j >= 0; j-- {
		e.set(s.at[j], s.old[j])
	}
	e.redo = append(e.redo, s)
	e.rev++
	return s.name, nil
}

// Redo reapplies the newest undone stroke and returns its name.
func (e *Editor) Redo() (string, error) {
	if e.open != nil {
		return "", ErrStrokeOpen
	}
	if len(e.redo) == 0 {
		return "", ErrNothingToRedo
	}
	s := e.redo[len(e.redo)-1]
	e.redo = e.redo[:len(e.redo)-1]
	for j, at := range s.at {
		e.set(at, s.new[j])
	}
	e.undo = append(e.undo, s)
	e.rev++
	return s.name, nil
}

// set writes v at data index i and keeps the counts.
func (e *Editor) set(i int, v uint8) {
	old := e.m.Data[i]
	e.counts[old]--
	e.counts[v]++
	e.m.Data[i] = v
}

// write changes voxel i to v within the open stroke; it reports whether the voxel changed.
func (e *Editor) write(i int, v uint8) bool {
	old := e.m.Data[i]
	if old == v {
		return false
	}
	e.set(i, v)
	s := e.open
	s.at = append(s.at, i)
	s.old = append(s.old, old)
	s.new = append(s.new, v)
	return true
}

// within runs op inside the open stroke, or inside a stroke of its own named name when none is open.
func (e *Editor) within(name string, op func() int) int {
	own := e.open == nil
	if own {
		_ = e.Begin(name) // cannot fail: no stroke is open
	}
	n := op()
	if n > 0 {
		e.rev++
	}
	if own {
		_, _ = e.End() // cannot fail: the stroke is open
	}
	return n
}
