package dcmwrite

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
)

// Comprehensive3DSRStorage is the SOP class of measurement reports: it holds image coordinates (SCOORD) of
// measurements on a series' images and patient coordinates (SCOORD3D) of those on reformatted planes.
const Comprehensive3DSRStorage = "1.2.840.10008.5.1.4.1.1.88.34"

// Code is a coded concept: value, coding scheme and meaning.
type Code struct{ Value, Scheme, Meaning string }

// The concepts of a TID 1500 measurement report (PS3.16; the measurement codes as OHIF's adapters write
// them, so that OHIF and dcmjs read the report back).
var (
	codeReport          = Code{"126000", "DCM", "Imaging Measurement Report"}
	codeLanguage        = Code{"121049", "DCM", "Language of Content Item and Descendants"}
	codeEnglish         = Code{"en-US", "RFC5646", "English (United States)"}
	codeObserverType    = Code{"121005", "DCM", "Observer Type"}
	codePerson          = Code{"121006", "DCM", "Person"}
	codeObserverName    = Code{"121008", "DCM", "Person Observer Name"}
	codeProcedure       = Code{"121058", "DCM", "Procedure reported"}
	codeMRI             = Code{"113091000", "SCT", "Magnetic resonance imaging"}
	codeImageLibrary    = Code{"111028", "DCM", "Image Library"}
	codeLibraryGroup    = Code{"126200", "DCM", "Image Library Group"}
	codeMeasurements    = Code{"126010", "DCM", "Imaging Measurements"}
	codeGroup           = Code{"125007", "DCM", "Measurement Group"}
	codeTrackingID      = Code{"112039", "DCM", "Tracking Identifier"}
	codeTrackingUID     = Code{"112040", "DCM", "Tracking Unique Identifier"}
	codeImageRegion     = Code{"111030", "DCM", "Image Region"}
	codeLength          = Code{"410668003", "SCT", "Length"}
	codeLongAxis        = Code{"103339001", "SCT", "Long Axis"}
	codeShortAxis       = Code{"103340004", "SCT", "Short Axis"}
	codeAngle           = Code{"ANGLE", "99NEURONOVA", "Angle"} // no standard code for a plain angle
	codeArea            = Code{"42798000", "SCT", "Area"}
	codeMean            = Code{"373098007", "SCT", "Mean"}
	codeSD              = Code{"386136009", "SCT", "Standard deviation"}
	codeMin             = Code{"255605001", "SCT", "Minimum"}
	codeMax             = Code{"56851009", "SCT", "Maximum"}
	unitMM              = Code{"mm", "UCUM", "millimeter"}
	unitMM2             = Code{"mm2", "UCUM", "square millimeter"}
	unitDegree          = Code{"deg", "UCUM", "degree"}
	unitNone            = Code{"1", "UCUM", "no units"}
	templateMeasurement = "1500"
)

// SROptions are what a measurement report says beyond its measurements.
type SROptions struct {
	Observer     string    // who measured (a person's name); "" when unknown
	Time         time.Time // content date and time (default now)
	SeriesNumber int       // of the SR series (default 9000)
	Manufacturer string    // default "NeuroNova"
}

// ErrNothingToReport is returned when no measurement can go in a report (none given, or only probes).
var ErrNothingToReport = errors.New("no measurement to report")

// MeasurementReport builds a DICOM Comprehensive 3D SR document holding a TID 1500 Imaging Measurement Report
// of ms, measurements of the images of study st: one measurement group each, with its tracking identifier
// and UID, its values (lengths, RANO's long and short axes, angles, ROI area and statistics) and where it
// lies (SCOORD on the image it was made on, else SCOORD3D in the frame of reference), the image library,
// and the images as evidence. Probes, which measure nothing, are left out. Each call makes a new SOP
// Instance UID.
func MeasurementReport(st *viewer.Study, ms []measure.Measurement, o SROptions) ([]*dicom.Element, error) {
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	if o.SeriesNumber == 0 {
		o.SeriesNumber = 9000
	}
	if o.Manufacturer == "" {
		o.Manufacturer = "NeuroNova"
	}
	var groups [][]*dicom.Element
	images := map[string]measure.ImageRef{} // SOP Instance UID → image, for the library and the evidence
	series := map[string]string{}           // SOP Instance UID → its series
	var order []string
	for _, m := range ms {
		if m.Kind == measure.KindProbe {
			continue
		}
		g, err := measurementGroup(m)
		if err != nil {
			return nil, fmt.Errorf("measurement %s: %w", m.ID, err)
		}
		groups = append(groups, g)
		if m.Image != nil {
			if _, ok := images[m.Image.SOPInstanceUID]; !ok {
				order = append(order, m.Image.SOPInstanceUID)
			}
			images[m.Image.SOPInstanceUID], series[m.Image.SOPInstanceUID] = *m.Image, m.SeriesUID
		}
	}
	if len(groups) == 0 {
		return nil, ErrNothingToReport
	}
	var b Builder
	b.String(tag.SpecificCharacterSet, "ISO_IR 192")
	b.Sequence(tag.CodingSchemeIdentificationSequence, item(func(b *Builder) {
		b.String(tag.CodingSchemeDesignator, codeAngle.Scheme)
		b.String(tag.CodingSchemeName, "NeuroNova local codes")
		b.String(tag.CodingSchemeResponsibleOrganization, "NeuroNova")
	}))
	b.String(tag.SOPClassUID, Comprehensive3DSRStorage)
	b.String(tag.SOPInstanceUID, dicomkit.NewUID())
	b.String(tag.StudyDate, optional(st.StudyDate)...)
	b.String(tag.StudyTime, optional(st.StudyTime)...)
	b.String(tag.ContentDate, o.Time.Format("20060102"))
	b.String(tag.ContentTime, o.Time.Format("150405"))
	b.String(tag.AccessionNumber, optional(st.AccessionNumber)...)
	b.String(tag.Modality, "SR")
	b.String(tag.Manufacturer, o.Manufacturer)
	b.String(tag.ReferringPhysicianName)
	b.String(tag.SeriesDescription, "Measurements")
	b.Sequence(tag.ReferencedPerformedProcedureStepSequence)
	b.String(tag.PatientName, optional(st.PatientName)...)
	b.String(tag.PatientID, optional(st.PatientID)...)
	b.String(tag.PatientBirthDate, optional(st.PatientBirthDate)...)
	b.String(tag.PatientSex, optional(st.PatientSex)...)
	b.String(tag.StudyInstanceUID, st.UID)
	b.String(tag.SeriesInstanceUID, dicomkit.NewUID())
	b.String(tag.StudyID)
	b.Integer(tag.SeriesNumber, o.SeriesNumber)
	b.Integer(tag.InstanceNumber, 1)
	b.String(tag.ValueType, "CONTAINER")
	b.Sequence(tag.ConceptNameCodeSequence, codeItem(codeReport))
	b.String(tag.ContinuityOfContent, "SEPARATE")
	b.Sequence(tag.ContentTemplateSequence, items(func(b *Builder) {
		b.String(tag.MappingResource, "DCMR")
		b.String(tag.TemplateIdentifier, templateMeasurement)
	}))
	b.String(tag.CompletionFlag, "COMPLETE")
	b.String(tag.VerificationFlag, "UNVERIFIED")
	b.Sequence(tag.PerformedProcedureCodeSequence)
	if len(order) > 0 {
		b.Sequence(tag.CurrentRequestedProcedureEvidenceSequence, evidence(st.UID, order, images, series))
	}
	content := [][]*dicom.Element{
		codeContent("HAS CONCEPT MOD", codeLanguage, codeEnglish),
		codeContent("HAS OBS CONTEXT", codeObserverType, codePerson),
		item(func(b *Builder) {
			contentHeader(b, "HAS OBS CONTEXT", "PNAME", &codeObserverName)
			b.String(tag.PersonName, personName(o.Observer))
		}),
		codeContent("HAS CONCEPT MOD", codeProcedure, codeMRI),
	}
	if len(order) > 0 {
		var library [][]*dicom.Element
		for _, sop := range order {
			library = append(library, imageContent("CONTAINS", images[sop]))
		}
		content = append(content, container("CONTAINS", codeImageLibrary, container("CONTAINS", codeLibraryGroup, library...)))
	}
	content = append(content, container("CONTAINS", codeMeasurements, groups...))
	b.Sequence(tag.ContentSequence, content...)
	return b.Elements()
}

// measurementGroup is one measurement's group: TID 1501 (values inferred from coordinates) for lengths,
// RANO's axes and angles, TID 1410 (a planar region and its values) for ROIs.
func measurementGroup(m measure.Measurement) ([]*dicom.Element, error) {
	if m.Image == nil && m.FrameOfReferenceUID == "" {
		return nil, fmt.Errorf("made on a reformatted plane of a series without a frame of reference: nowhere to place it")
	}
	kids := [][]*dicom.Element{
		item(func(b *Builder) {
			contentHeader(b, "HAS OBS CONTEXT", "TEXT", &codeTrackingID)
			b.String(tag.TextValue, "NeuroNova:"+string(m.Kind)+":"+m.ID)
		}),
		item(func(b *Builder) {
			contentHeader(b, "HAS OBS CONTEXT", "UIDREF", &codeTrackingUID)
			b.String(tag.UID, dicomkit.DeterministicUID("neuronova measurement", m.ID))
		}),
	}
	p := m.Points
	switch m.Kind {
	case measure.KindLength:
		kids = append(kids, numContent(codeLength, m.Length, unitMM, coords(m, "POLYLINE", 0, 1)))
	case measure.KindBidirectional:
		kids = append(kids, numContent(codeLongAxis, m.Length, unitMM, coords(m, "POLYLINE", 0, 1)),
			numContent(codeShortAxis, m.Short, unitMM, coords(m, "POLYLINE", 2, 3)))
	case measure.KindAngle:
		kids = append(kids, numContent(codeAngle, m.Angle, unitDegree, coords(m, "POLYLINE", 0, 1, 2)))
	case measure.KindEllipse, measure.KindRectangle:
		if m.Stats == nil || m.Outline == nil || len(p) != 2 {
			return nil, fmt.Errorf("an ROI without statistics or outline")
		}
		kids = append(kids, regionCoords(m)...)
		s := m.Stats
		kids = append(kids, numContent(codeArea, s.Area, unitMM2, nil), numContent(codeMean, s.Mean, unitNone, nil),
			numContent(codeSD, s.SD, unitNone, nil), numContent(codeMin, s.Min, unitNone, nil), numContent(codeMax, s.Max, unitNone, nil))
	default:
		return nil, fmt.Errorf("kind %q has no report form", m.Kind)
	}
	return container("CONTAINS", codeGroup, kids...), nil
}

// coords are the SCOORD (on the image) or SCOORD3D (in the frame of reference) of points idx of m, as the
// one child of a value ("INFERRED FROM").
func coords(m measure.Measurement, graphic string, idx ...int) [][]*dicom.Element {
	var pixels []measure.Point
	var patient []viewer.Vec3
	for _, i := range idx {
		patient = append(patient, m.Patient[i])
		if m.Image != nil && i < len(m.Image.Pixels) {
			pixels = append(pixels, m.Image.Pixels[i])
		}
	}
	return [][]*dicom.Element{coordItem("INFERRED FROM", nil, graphic, m, pixels, patient)}
}

// regionCoords is an ROI's outline as a SCOORD or SCOORD3D named Image Region.
func regionCoords(m measure.Measurement) [][]*dicom.Element {
	o := m.Outline
	return [][]*dicom.Element{coordItem("CONTAINS", &codeImageRegion, o.Graphic, m, o.Pixels, o.Patient)}
}

// coordItem is a SCOORD of pixels on m's image when it has one and all the pixels are given, else a
// SCOORD3D of patient positions in m's frame of reference; named by concept when not nil.
func coordItem(rel string, concept *Code, graphic string, m measure.Measurement, pixels []measure.Point, patient []viewer.Vec3) []*dicom.Element {
	return item(func(b *Builder) {
		if m.Image != nil && len(pixels) == len(patient) {
			contentHeader(b, rel, "SCOORD", concept)
			data := make([]float64, 0, 2*len(pixels))
			for _, p := range pixels {
				data = append(data, p.X, p.Y)
			}
			b.Floats(tag.GraphicData, data...)
			b.String(tag.GraphicType, graphic)
			b.Sequence(tag.ContentSequence, imageContent("SELECTED FROM", *m.Image))
			return
		}
		contentHeader(b, rel, "SCOORD3D", concept)
		data := make([]float64, 0, 3*len(patient))
		for _, p := range patient {
			data = append(data, p[0], p[1], p[2])
		}
		b.Floats(tag.GraphicData, data...)
		b.String(tag.GraphicType, graphic)
		b.String(tag.ReferencedFrameOfReferenceUID, m.FrameOfReferenceUID)
	})
}

// numContent is a NUM content item: value in unit, with children.
func numContent(name Code, value float64, unit Code, children [][]*dicom.Element) []*dicom.Element {
	return item(func(b *Builder) {
		contentHeader(b, "CONTAINS", "NUM", &name)
		b.Sequence(tag.MeasuredValueSequence, item(func(b *Builder) {
			b.Sequence(tag.MeasurementUnitsCodeSequence, codeItem(unit))
			b.Decimal(tag.NumericValue, value)
		}))
		if len(children) > 0 {
			b.Sequence(tag.ContentSequence, children...)
		}
	})
}

// imageContent is an IMAGE content item referencing img.
func imageContent(rel string, img measure.ImageRef) []*dicom.Element {
	return item(func(b *Builder) {
		contentHeader(b, rel, "IMAGE", nil)
		b.Sequence(tag.ReferencedSOPSequence, sopReference(img))
	})
}

// sopReference is an item of a Referenced SOP Sequence.
func sopReference(img measure.ImageRef) []*dicom.Element {
	return item(func(b *Builder) {
		b.String(tag.ReferencedSOPClassUID, img.SOPClassUID)
		b.String(tag.ReferencedSOPInstanceUID, img.SOPInstanceUID)
		if img.Frame > 0 {
			b.Integer(tag.ReferencedFrameNumber, img.Frame+1)
		}
	})
}

// evidence is the Current Requested Procedure Evidence Sequence: the images measured, by series.
func evidence(studyUID string, order []string, images map[string]measure.ImageRef, series map[string]string) []*dicom.Element {
	var seriesOrder []string
	bySeries := map[string][][]*dicom.Element{}
	for _, sop := range order {
		se := series[sop]
		if _, ok := bySeries[se]; !ok {
			seriesOrder = append(seriesOrder, se)
		}
		img := images[sop]
		img.Frame = 0 // the evidence names instances
		bySeries[se] = append(bySeries[se], sopReference(img))
	}
	var seq [][]*dicom.Element
	for _, se := range seriesOrder {
		seq = append(seq, item(func(b *Builder) {
			b.String(tag.SeriesInstanceUID, se)
			b.Sequence(tag.ReferencedSOPSequence, bySeries[se]...)
		}))
	}
	return item(func(b *Builder) {
		b.Sequence(tag.ReferencedSeriesSequence, seq...)
		b.String(tag.StudyInstanceUID, studyUID)
	})
}

// container is a CONTAINER content item named name holding children.
func container(rel string, name Code, children ...[]*dicom.Element) []*dicom.Element {
	return item(func(b *Builder) {
		contentHeader(b, rel, "CONTAINER", &name)
		b.String(tag.ContinuityOfContent, "SEPARATE")
		b.Sequence(tag.ContentSequence, children...)
	})
}

// codeContent is a CODE content item: name = value.
func codeContent(rel string, name, value Code) []*dicom.Element {
	return item(func(b *Builder) {
		contentHeader(b, rel, "CODE", &name)
		b.Sequence(tag.ConceptCodeSequence, codeItem(value))
	})
}

// contentHeader adds a content item's relationship, value type and concept name (none when nil).
func contentHeader(b *Builder, rel, valueType string, name *Code) {
	b.String(tag.RelationshipType, rel)
	b.String(tag.ValueType, valueType)
	if name != nil {
		b.Sequence(tag.ConceptNameCodeSequence, codeItem(*name))
	}
}

func codeItem(c Code) []*dicom.Element {
	return item(func(b *Builder) {
		b.String(tag.CodeValue, c.Value)
		b.String(tag.CodingSchemeDesignator, c.Scheme)
		b.String(tag.CodeMeaning, c.Meaning)
	})
}

// item builds one sequence item. The values are generated here or checked before, so an error is a
// programming error.
func item(f func(b *Builder)) []*dicom.Element {
	var b Builder
	f(&b)
	e, err := b.Elements()
	if err != nil {
		panic("dcmwrite: SR item: " + err.Error())
	}
	return e
}

// items is item as a one-item list for Sequence.
func items(f func(b *Builder)) []*dicom.Element { return item(f) }

// personName writes an observer's name as a DICOM PN: "Jane Doe" or a login becomes the family name
// component as written; a name with a caret is kept.
func personName(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, `\`, "/"))
	if s == "" {
		s = "UNKNOWN"
	}
	if !strings.Contains(s, "^") {
		s += "^" // the family name component, in the form PS3.5 6.2.1 describes
	}
	return s
}
