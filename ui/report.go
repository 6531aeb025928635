package ui

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/viewer"
)

// Choices of the report's tumour location.
var (
	lobes       = []string{"frontal", "parietal", "temporal", "occipital", "insular", "cerebellum", "brainstem", "multiple"}
	hemispheres = []string{"left", "right", "bilateral", "midline"}
	yesNo       = []string{"yes", "no"}
)

// ReportForm is the reader's report of an imaging order: findings, impression, recommendation and the tumour
// (detected, lobe, hemisphere, largest diameter, volume), pre-filled from the latest M1 result and the
// measurements, all editable. What is typed is kept as a draft on the workstation a moment after each change.
type ReportForm struct {
	Findings, Impression, Recommendation *widget.Entry
	Detected, Lobe, Hemisphere           *widget.Select
	Diameter, Volume                     *widget.Entry // cm, mL
	Prefill                              *widget.Button
	// OnChange is called (on the UI goroutine) after the reader changed the report, at most once per
	// autosaveDelay; the workstation keeps the draft then.
	OnChange func(report json.RawMessage)

	base     map[string]any // the report the form started from: fields it does not show are kept
	studyUID string
	orderID  string
	filling  bool // the form is being filled by the program, not typed
	timer    *time.Timer
	content  fyne.CanvasObject
}

// autosaveDelay is how long after the last keystroke the draft is kept.
const autosaveDelay = 800 * time.Millisecond

func newReportForm() *ReportForm {
	f := &ReportForm{Findings: widget.NewMultiLineEntry(), Impression: widget.NewMultiLineEntry(), Recommendation: widget.NewMultiLineEntry(),
		Detected: widget.NewSelect(yesNo, nil), Lobe: widget.NewSelect(lobes, nil), Hemisphere: widget.NewSelect(hemispheres, nil),
		Diameter: widget.NewEntry(), Volume: widget.NewEntry()}
	f.Findings.SetMinRowsVisible(4)
	f.Impression.SetMinRowsVisible(3)
	f.Recommendation.SetMinRowsVisible(2)
	for _, e := range []*widget.Entry{f.Findings, f.Impression, f.Recommendation} {
		e.Wrapping = fyne.TextWrapWord
		e.OnChanged = func(string) { f.changed() }
	}
	f.Diameter.SetPlaceHolder("cm")
	f.Volume.SetPlaceHolder("mL")
	f.Diameter.OnChanged = func(string) { f.changed() }
	f.Volume.OnChanged = func(string) { f.changed() }
	for _, s := range []*widget.Select{f.Detected, f.Lobe, f.Hemisphere} {
		s.OnChanged = func(string) { f.changed() }
	}
	f.Detected.PlaceHolder, f.Lobe.PlaceHolder, f.Hemisphere.PlaceHolder = "tumour?", "lobe", "hemisphere"
	f.Prefill = widget.NewButton("Fill from AI and measurements", nil)
	tumour := container.NewGridWithColumns(2,
		widget.NewForm(widget.NewFormItem("Tumour", f.Detected), widget.NewFormItem("Lobe", f.Lobe), widget.NewFormItem("Hemisphere", f.Hemisphere)),
		widget.NewForm(widget.NewFormItem("Largest diameter", f.Diameter), widget.NewFormItem("Volume", f.Volume)))
	f.content = container.NewVBox(bold("Findings"), f.Findings, bold("Impression"), f.Impression, bold("Recommendation"),
		f.Recommendation, tumour)
	return f
}

func bold(s string) *widget.Label {
	return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

// Content is the form's canvas object.
func (f *ReportForm) Content() fyne.CanvasObject { return f.content }

// Load shows report (a worker_result) of order, whose study in the cache is studyUID ("" none).
func (f *ReportForm) Load(orderID string, report json.RawMessage, studyUID string) {
	f.stop()
	f.orderID, f.studyUID = orderID, studyUID
	f.base = map[string]any{}
	if len(report) > 0 {
		json.Unmarshal(report, &f.base)
	}
	r, _ := api.ParseRISReport(report)
	f.filling = true
	defer func() { f.filling = false }()
	f.Findings.SetText(r.Findings)
	f.Impression.SetText(r.Impression)
	f.Recommendation.SetText(r.Recommendation)
	f.Detected.ClearSelected()
	if d := r.Tumor.Detected; d != nil {
		f.Detected.SetSelected(map[bool]string{true: "yes", false: "no"}[*d])
	}
	setChoice(f.Lobe, r.Tumor.Location.Lobe)
	setChoice(f.Hemisphere, r.Tumor.Location.Hemisphere)
	f.Diameter.SetText(formatNumber(r.Tumor.Size.MaxDiameterCM))
	f.Volume.SetText(formatNumber(r.Tumor.Size.VolumeCC))
}

func setChoice(s *widget.Select, v string) {
	if v == "" {
		s.ClearSelected()
	} else {
		s.SetSelected(v)
	}
}

func formatNumber(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// SetEditable lets the reader type, or shows the report read-only (without the fill button).
func (f *ReportForm) SetEditable(on bool) {
	if on {
		f.Prefill.Show()
	} else {
		f.Prefill.Hide()
	}
	for _, w := range []fyne.Disableable{f.Findings, f.Impression, f.Recommendation, f.Detected, f.Lobe, f.Hemisphere, f.Diameter, f.Volume, f.Prefill} {
		if on {
			w.Enable()
		} else {
			w.Disable()
		}
	}
}

// Report is the report as typed, as the order's worker_result: the fields the form shows over the report
// it started from, the study it reads named when the cache holds it.
func (f *ReportForm) Report() (json.RawMessage, error) {
	var r api.RISReport
	r.Findings, r.Impression, r.Recommendation = f.Findings.Text, f.Impression.Text, f.Recommendation.Text
	switch f.Detected.Selected {
	case "yes", "no":
		d := f.Detected.Selected == "yes"
		r.Tumor.Detected = &d
	}
	r.Tumor.Location.Lobe, r.Tumor.Location.Hemisphere = f.Lobe.Selected, f.Hemisphere.Selected
	var err error
	if r.Tumor.Size.MaxDiameterCM, err = parseNumber("largest diameter", f.Diameter.Text); err != nil {
		return nil, err
	}
	if r.Tumor.Size.VolumeCC, err = parseNumber("volume", f.Volume.Text); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for k, v := range f.base {
		out[k] = v
	}
	out["_template"], out["_version"] = "RIS", "1.1"
	for k, v := range map[string]any{"findings": r.Findings, "impression": r.Impression, "recommendation": r.Recommendation, "tumor": r.Tumor} {
		out[k] = v
	}
	if f.studyUID != "" {
		dicom, _ := out["dicom"].(map[string]any)
		if dicom == nil {
			dicom = map[string]any{}
		}
		dicom["study_uid"], dicom["accession_number"] = f.studyUID, f.orderID
		out["dicom"] = dicom
	}
	return json.Marshal(out)
}

func parseNumber(what, s string) (*float64, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", "."))
	if s == "" {
		return nil, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return nil, fmt.Errorf("the %s %q is not a number", what, s)
	}
	return &v, nil
}

// changed keeps the draft a moment after the reader stops typing.
func (f *ReportForm) changed() {
	if f.filling || f.OnChange == nil {
		return
	}
	f.stop()
	f.timer = time.AfterFunc(autosaveDelay, func() {
		do(func() {
			if r, err := f.Report(); err == nil {
				f.OnChange(r)
			}
		})
	})
}

func (f *ReportForm) stop() {
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
}

// Fill pre-fills the tumour from an M1 result (detected, volume: the whole tumour in mL), the hemisphere
// (hemisphereOf the segmentation, "" unknown) and the largest diameter from the longest length measured;
// what the reader typed stays.
func (f *ReportForm) Fill(m1 *api.M1Summary, hemisphere string, longestMM float64) {
	if m1 != nil {
		detected := "no"
		if m1.Volumes.WT > 0 {
			detected = "yes"
		}
		f.Detected.SetSelected(detected)
		if f.Volume.Text == "" {
			f.Volume.SetText(strconv.FormatFloat(roundTo(m1.Volumes.WT, 1), 'f', -1, 64))
		}
		if f.Findings.Text == "" {
			f.Findings.SetText(fmt.Sprintf("AI segmentation (%s %s): whole tumour %.1f mL (enhancing %.1f, necrotic core %.1f, oedema %.1f mL).",
				m1.Model.ID, m1.Model.Version, m1.Volumes.WT, m1.Volumes.ET, m1.Volumes.NCR, m1.Volumes.ED))
		}
	}
	if hemisphere != "" && f.Hemisphere.Selected == "" {
		f.Hemisphere.SetSelected(hemisphere)
	}
	if longestMM > 0 && f.Diameter.Text == "" {
		f.Diameter.SetText(strconv.FormatFloat(roundTo(longestMM/10, 1), 'f', -1, 64))
	}
}

func roundTo(v float64, digits int) float64 {
	p, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return p
}

// hemisphereOf says on which side of the patient the labelled voxels lie, by their centre in patient
// coordinates (LPS: +x is the patient's left); "" without labels.
func hemisphereOf(m *viewer.LabelMap) string {
	if m == nil {
		return ""
	}
	// The centre of the voxels in index space maps to their centre in patient space (the map is affine).
	var si, sj, sk float64
	n := 0
	nx, ny := m.Geometry.Size[0], m.Geometry.Size[1]
	for i, v := range m.Data {
		if v != 0 {
			si, sj, sk = si+float64(i%nx), sj+float64(i/nx%ny), sk+float64(i/(nx*ny))
			n++
		}
	}
	if n == 0 {
		return ""
	}
	x := m.Geometry.ToPatient(viewer.Vec3{si / float64(n), sj / float64(n), sk / float64(n)})[0]
	switch {
	case x > 5:
		return "left"
	case x < -5:
		return "right"
	}
	return "midline"
}
