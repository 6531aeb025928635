// Package segversion saves an edited label map as a new version of a study's segmentation: a new DICOM SEG
// (new series and instance UIDs) whose derivation names the SEG it was edited from and whose creator is the
// editor, recorded in the local cache with cache.RecordVersion beside the version it came from — never over it
// — so that it goes up through the outbox at the next sync.
package segversion

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// Request is an edited map to save.
type Request struct {
	Study     *viewer.Study
	Reference *viewer.Series   // the series whose grid the map is on, with its DICOM images (positions known)
	Map       *viewer.LabelMap // the edited map: a copy the editor no longer writes (edit.Editor.Snapshot)
	// Parent is the cache's SEG result the map was edited from; 0 when it came from outside the cache.
	Parent int64
	// ParentSEG, with Parent 0, is the SEG the map was edited from (pulled from the PACS), and Base its version
	// there (0 counts as 1); nil for a map that was not a SEG (Map.Source names it).
	ParentSEG []byte
	Base      int
	Editor    string    // the user who edited
	Note      string    // what was done, as the editor put it
	Time      time.Time // when; zero = now
	Banner    string    // the banner of the model the first version came from, if any
}

// Saved is the new version.
type Saved struct {
	ID                     int64 // the cache's result id of the new SEG
	Version                int
	SeriesUID, InstanceUID string
	EditOf                 string // what it was edited from: the parent SEG's SOP Instance UID, or the map's source
}

// Save builds the new SEG of r.Map and records it in c as the next version. It runs in a worker: it encodes a
// SEG of the whole map and writes the cache.
func Save(ctx context.Context, c *cache.Cache, r Request) (Saved, error) {
	if err := r.check(c); err != nil {
		return Saved{}, err
	}
	der, parentVersion, err := r.derivation(ctx, c)
	if err != nil {
		return Saved{}, err
	}
	when := r.Time
	if when.IsZero() {
		when = time.Now()
	}
	out := Saved{SeriesUID: dicomkit.NewUID(), InstanceUID: dicomkit.NewUID(), EditOf: der.InstanceUID}
	if out.EditOf == "" {
		out.EditOf = r.Map.Source
	}
	if out.EditOf == "" {
		out.EditOf = "an unnamed label map"
	}
	opts := dicomseg.Options{Study: r.Study, Reference: r.Reference, Banner: r.Banner, Time: when,
		Algorithm: fmt.Sprintf("manual edit of v%d", parentVersion), SeriesUID: out.SeriesUID, InstanceUID: out.InstanceUID,
		Segments: Segments(r.Map), Derived: &der}
	els, err := dicomseg.Build(r.Map, opts)
	if err != nil {
		return Saved{}, fmt.Errorf("save the edit of study %s: %w", r.Study.UID, err)
	}
	var buf bytes.Buffer
	if err := dcmwrite.Encode(&buf, els); err != nil {
		return Saved{}, fmt.Errorf("save the edit of study %s: %w", r.Study.UID, err)
	}
	ed := cache.Edit{Editor: r.Editor, EditOf: out.EditOf, Base: r.Base, Note: r.Note}
	ids, err := c.RecordVersion(ctx, r.Study.UID, ed, []cache.ResultInput{{Kind: "seg", Payload: buf.Bytes(), Parent: r.Parent}})
	if err != nil {
		return Saved{}, err
	}
	out.ID = ids[0]
	v, err := version(ctx, c, r.Study.UID, out.ID)
	if err != nil {
		return Saved{}, err
	}
	out.Version = v.Version
	return out, nil
}

func (r *Request) check(c *cache.Cache) error {
	switch {
	case c == nil:
		return errors.New("save an edit: no cache")
	case r.Study == nil || r.Study.UID == "":
		return errors.New("save an edit: no study")
	case r.Reference == nil:
		return fmt.Errorf("save the edit of study %s: no reference series", r.Study.UID)
	case r.Map == nil:
		return fmt.Errorf("save the edit of study %s: no label map", r.Study.UID)
	case r.Editor == "":
		return fmt.Errorf("save the edit of study %s: no editor", r.Study.UID)
	case r.Parent != 0 && r.ParentSEG != nil:
		return fmt.Errorf("save the edit of study %s: both a cached parent and a parent SEG", r.Study.UID)
	case r.Base < 0:
		return fmt.Errorf("save the edit of study %s: base version %d", r.Study.UID, r.Base)
	}
	if err := r.Map.Check(); err != nil {
		return fmt.Errorf("save the edit of study %s: %w", r.Study.UID, err)
	}
	return nil
}

// derivation returns what the new SEG derives from and the version of that parent.
func (r *Request) derivation(ctx context.Context, c *cache.Cache) (dicomseg.Derivation, int, error) {
	d := dicomseg.Derivation{Editor: r.Editor}
	seg, v := r.ParentSEG, max(r.Base, 1)
	if r.Parent != 0 {
		pv, err := version(ctx, c, r.Study.UID, r.Parent)
		if err != nil {
			return d, 0, err
		}
		if pv.Kind != "seg" {
			return d, 0, fmt.Errorf("save the edit of study %s: result %d is a %q result, not a SEG", r.Study.UID, r.Parent, pv.Kind)
		}
		if seg, err = c.ResultPayload(ctx, r.Parent); err != nil {
			return d, 0, fmt.Errorf("save the edit of study %s: %w", r.Study.UID, err)
		}
		v = pv.Version
	}
	if seg != nil {
		id, err := dicomkit.ReadIdentity(bytes.NewReader(seg))
		if err != nil {
			return d, 0, fmt.Errorf("save the edit of study %s: the SEG edited: %w", r.Study.UID, err)
		}
		if id.StudyUID != r.Study.UID {
			return d, 0, fmt.Errorf("save the edit of study %s: the SEG edited belongs to study %s", r.Study.UID, id.StudyUID)
		}
		d.SeriesUID, d.InstanceUID = id.SeriesUID, id.SOPUID
	}
	from := d.InstanceUID
	if from == "" {
		from = r.Map.Source
	}
	d.Description = fmt.Sprintf("manual edit of v%d (%s) by %s", v, from, r.Editor)
	if r.Note != "" {
		d.Description += ": " + r.Note
	}
	return d, v, nil
}

// version returns the cache's record of result id of a study.
func version(ctx context.Context, c *cache.Cache, studyUID string, id int64) (cache.ResultVersion, error) {
	vs, err := c.StudyResults(ctx, studyUID)
	if err != nil {
		return cache.ResultVersion{}, err
	}
	for _, v := range vs {
		if v.ID == id {
			return v, nil
		}
	}
	return cache.ResultVersion{}, fmt.Errorf("result %d of study %s: %w", id, studyUID, cache.ErrNotFound)
}

// Segments returns the SEG segments of m's labels: the tumour segments for the BraTS values, the map's own
// names and colours for any other. A SEG numbers its segments from 1 in this order.
func Segments(m *viewer.LabelMap) []dicomseg.Segment {
	out := make([]dicomseg.Segment, 0, len(m.Labels))
	for _, l := range m.Labels {
		s := dicomseg.Segment{Value: l.Value, Label: l.Name, Description: l.Name,
			Property: dicomseg.Code{Value: "85756007", Scheme: "SCT", Meaning: "Tissue"}, Colour: RGBToLab(l.Color.R, l.Color.G, l.Color.B)}
		for _, t := range dicomseg.TumourSegments {
			if t.Value == l.Value {
				s = t
			}
		}
		if s.Label == "" {
			s.Label = fmt.Sprintf("Segment %d", l.Value)
			s.Description = s.Label
		}
		out = append(out, s)
	}
	return out
}

// RGBToLab converts sRGB to a DICOM CIELab value (PS3.3 C.10.7.1.1: L*, a*, b* scaled to 0…65535, D65 white),
// the inverse of dicomseg.LabToRGB.
func RGBToLab(r, g, b uint8) [3]int {
	lin := func(c uint8) float64 {
		v := float64(c) / 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	R, G, B := lin(r), lin(g), lin(b)
	x := (0.4124564*R + 0.3575761*G + 0.1804375*B) / 0.95047
	y := 0.2126729*R + 0.7151522*G + 0.0721750*B
	z := (0.0193339*R + 0.1191920*G + 0.9503041*B) / 1.08883
	f := func(t float64) float64 {
		if t > 216.0/24389 {
			return math.Cbrt(t)
		}
		return t/(3*(6.0/29)*(6.0/29)) + 4.0/29
	}
	fx, fy, fz := f(x), f(y), f(z)
	l, a, bb := 116*fy-16, 500*(fx-fy), 200*(fy-fz)
	clamp := func(v float64) int { return int(math.Round(math.Max(0, math.Min(65535, v)))) }
	return [3]int{clamp(l * 65535 / 100), clamp((a + 128) * 65535 / 255), clamp((bb + 128) * 65535 / 255)}
}
