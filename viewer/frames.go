package viewer

import (
	"fmt"
	"math"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
)

// vecAttr reads n floats of an attribute; ok is false when absent, bad when present but malformed.
func vecAttr(e *dicom.Element, n int) (v []float64, ok bool, bad bool) {
	if e == nil {
		return nil, false, false
	}
	v, good := dicomkit.Floats(e)
	if !good || len(v) < n {
		return nil, false, true
	}
	return v[:n], true, false
}

// applyGeometry reads position, orientation, spacing and rescale attributes from els into fi.
func (f *File) applyGeometry(fi *frameInfo, pos, ori, spacing, thick, between, slope, icpt *dicom.Element) {
	if v, ok, bad := vecAttr(pos, 3); ok {
		fi.position, fi.hasPosition = Vec3{v[0], v[1], v[2]}, true
	} else if bad {
		f.warnOnce("ImagePositionPatient is malformed: ignored")
	}
	if v, ok, bad := vecAttr(ori, 6); ok {
		r, c := Vec3{v[0], v[1], v[2]}, Vec3{v[3], v[4], v[5]}
		if r.Norm() > 0.5 && c.Norm() > 0.5 && math.Abs(r.Unit().Dot(c.Unit())) < 0.1 {
			fi.orientation, fi.hasOrientation = [2]Vec3{r.Unit(), c.Unit()}, true
		} else {
			f.warnOnce("ImageOrientationPatient is not two orthogonal directions: ignored")
		}
	} else if bad {
		f.warnOnce("ImageOrientationPatient is malformed: ignored")
	}
	if v, ok, bad := vecAttr(spacing, 2); ok && v[0] > 0 && v[1] > 0 {
		fi.pixelSpacing, fi.hasSpacing = [2]float64{v[0], v[1]}, true
	} else if ok || bad {
		f.warnOnce("PixelSpacing is malformed: ignored")
	}
	if v, ok, _ := vecAttr(thick, 1); ok && v[0] > 0 {
		fi.sliceThickness = v[0]
	}
	if v, ok, _ := vecAttr(between, 1); ok && v[0] > 0 {
		fi.sliceSpacing = v[0]
	}
	if v, ok, bad := vecAttr(slope, 1); ok && v[0] != 0 {
		fi.slope = v[0]
	} else if ok || bad {
		f.warnOnce("RescaleSlope is malformed or zero: 1 used")
	}
	if v, ok, bad := vecAttr(icpt, 1); ok {
		fi.intercept = v[0]
	} else if bad {
		f.warnOnce("RescaleIntercept is malformed: 0 used")
	}
}

func (f *File) warnOnce(s string) {
	for _, w := range f.warnings {
		if w == s {
			return
		}
	}
	f.warnings = append(f.warnings, s)
}

// applyGroup applies one functional group item (shared or per frame) to fi.
func (f *File) applyGroup(fi *frameInfo, group []*dicom.Element) {
	if len(group) == 0 {
		return
	}
	pm := dicomkit.FirstItem(group, tag.PixelMeasuresSequence)
	pp := dicomkit.FirstItem(group, tag.PlanePositionSequence)
	po := dicomkit.FirstItem(group, tag.PlaneOrientationSequence)
	pv := dicomkit.FirstItem(group, tag.PixelValueTransformationSequence)
	f.applyGeometry(fi, dicomkit.Find(pp, tag.ImagePositionPatient), dicomkit.Find(po, tag.ImageOrientationPatient),
		dicomkit.Find(pm, tag.PixelSpacing), dicomkit.Find(pm, tag.SliceThickness), dicomkit.Find(pm, tag.SpacingBetweenSlices),
		dicomkit.Find(pv, tag.RescaleSlope), dicomkit.Find(pv, tag.RescaleIntercept))
}

// readFrames fills f.frames: the top-level attributes, then the shared functional groups, then each
// frame's own. Frames of a multi-frame file without per-frame positions are stacked along the slice normal.
func (f *File) readFrames(a *attrs) {
	base := frameInfo{slope: 1}
	f.applyGeometry(&base, a[aPosition], a[aOrientation], a[aPixelSpacing], a[aSliceThickness],
		a[aSpacingBetweenSlices], a[aRescaleSlope], a[aRescaleIntercept])
	if !base.hasSpacing {
		if v, ok, _ := vecAttr(a[aImagerPixelSpacing], 2); ok && v[0] > 0 && v[1] > 0 {
			base.pixelSpacing, base.hasSpacing = [2]float64{v[0], v[1]}, true
			f.warnings = append(f.warnings, "PixelSpacing missing: ImagerPixelSpacing used")
		}
	}
	shared := dicomkit.Items(a[aSharedGroups])
	if len(shared) > 0 {
		f.applyGroup(&base, shared[0])
	}
	perFrame := dicomkit.Items(a[aPerFrameGroups])
	if len(perFrame) > 0 && len(perFrame) != f.pix.frames {
		f.warnings = append(f.warnings, fmt.Sprintf("%d per-frame functional groups for %d frames", len(perFrame), f.pix.frames))
	}
	f.frames = make([]frameInfo, f.pix.frames)
	perFramePositions := f.pix.frames > 1
	for i := range f.frames {
		fi := base
		if i < len(perFrame) {
			if dicomkit.Find(dicomkit.FirstItem(perFrame[i], tag.PlanePositionSequence), tag.ImagePositionPatient) == nil {
				perFramePositions = false
			}
			f.applyGroup(&fi, perFrame[i])
		} else {
			perFramePositions = false
		}
		perFramePositions = perFramePositions && fi.hasPosition
		f.frames[i] = fi
	}
	if f.pix.frames == 1 || perFramePositions {
		return
	}
	// A multi-frame file without per-frame positions: stack the frames along the slice normal.
	step, from := 1.0, "no spacing attribute"
	offsets, _ := dicomkit.Floats(a[aGridFrameOffsets])
	useOffsets := len(offsets) == f.pix.frames
	switch {
	case useOffsets:
		from = "GridFrameOffsetVector"
	case base.sliceSpacing > 0:
		step, from = base.sliceSpacing, "SpacingBetweenSlices"
	case base.sliceThickness > 0:
		step, from = base.sliceThickness, "SliceThickness"
	}
	normal := base.orientation[0].Cross(base.orientation[1])
	for i := range f.frames {
		fi := &f.frames[i]
		d := float64(i) * step
		if useOffsets {
			d = offsets[i] - offsets[0]
		}
		fi.position = base.position.Add(normal.Scale(d))
		fi.hasPosition = base.hasPosition && base.hasOrientation
		fi.synthetic = true
	}
	if useOffsets {
		f.warnings = append(f.warnings, fmt.Sprintf("%d frames without per-frame positions: placed along the slice normal by GridFrameOffsetVector", f.pix.frames))
	} else {
		f.warnings = append(f.warnings, fmt.Sprintf("%d frames without per-frame positions: stacked along the slice normal %g mm apart (%s)", f.pix.frames, step, from))
	}
}

// readHints fills the classifier's hints, looking into the MR functional groups when the top level is silent.
func (f *File) readHints(a *attrs) {
	num := func(e *dicom.Element) float64 {
		if v, ok := dicomkit.Floats(e); ok && len(v) > 0 {
			return v[0]
		}
		return 0
	}
	h := SeriesHints{
		Modality: f.Series.Modality, SeriesDescription: f.Series.Description,
		ProtocolName: dicomkit.String(a[aProtocolName]), SequenceName: dicomkit.String(a[aSequenceName]),
		ScanningSequence: strings.Join(dicomkit.Strings(a[aScanningSequence]), `\`), ContrastAgent: dicomkit.String(a[aContrast]),
		EchoTime: num(a[aEchoTime]), RepetitionTime: num(a[aRepetitionTime]), InversionTime: num(a[aInversionTime]),
		DiffusionBValue: num(a[aDiffusionB]),
	}
	var groups [][]*dicom.Element
	if s := dicomkit.Items(a[aSharedGroups]); len(s) > 0 {
		groups = append(groups, s[0])
	}
	if pf := dicomkit.Items(a[aPerFrameGroups]); len(pf) > 0 {
		groups = append(groups, pf[0])
	}
	for _, g := range groups {
		if h.EchoTime == 0 {
			h.EchoTime = num(dicomkit.Find(dicomkit.FirstItem(g, tag.MREchoSequence), tag.EffectiveEchoTime))
		}
		if h.RepetitionTime == 0 {
			h.RepetitionTime = num(dicomkit.Find(dicomkit.FirstItem(g, tag.MRTimingAndRelatedParametersSequence), tag.RepetitionTime))
		}
		if h.InversionTime == 0 {
			h.InversionTime = num(dicomkit.Find(dicomkit.FirstItem(g, tag.MRModifierSequence), tag.InversionTimes))
		}
		if h.DiffusionBValue == 0 {
			h.DiffusionBValue = num(dicomkit.Find(dicomkit.FirstItem(g, tag.MRDiffusionSequence), tag.DiffusionBValue))
		}
	}
	f.Series.Hints = h
	f.Series.Type = Classify(h)
}

// readWindows pairs WindowCenter and WindowWidth values with their explanations.
func readWindows(center, width, explanation *dicom.Element) []Window {
	cs, ok1 := dicomkit.Floats(center)
	ws, ok2 := dicomkit.Floats(width)
	if !ok1 || !ok2 {
		return nil
	}
	names := dicomkit.Strings(explanation)
	var out []Window
	for i := 0; i < len(cs) && i < len(ws); i++ {
		if !(ws[i] > 0) {
			continue
		}
		w := Window{Center: cs[i], Width: ws[i]}
		if i < len(names) {
			w.Name = strings.TrimSpace(strings.Trim(names[i], "\x00"))
		}
		out = append(out, w)
	}
	return out
}
