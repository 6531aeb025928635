// Package pdfreport writes an imaging order's report as a PDF: the patient, order and reader header, the
// clinical information, findings, impression and recommendation, the tumour, the AI results — each with its
// model's banner and provenance (model id, version, sha256) — and the key images as the viewports showed
// them. The workstation's Print button and `neuronova report` write it; plain Go on
// codeberg.org/go-pdf/fpdf, no display needed.
package pdfreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/neuronova/neuronova/api"
)

// Report is what a PDF shows.
type Report struct {
	Order     api.Order
	Results   []api.AIResult // the order's AI results, newest first
	Images    []image.Image  // key images, at most four are printed
	PrintedBy string
	Printed   time.Time
}

const (
	pageW, margin = 210.0, 15.0
	textW         = pageW - 2*margin
)

// Write writes r as a PDF to w.
func Write(w io.Writer, r Report) error {
	rep, err := api.ParseRISReport(r.Order.WorkerResult)
	if err != nil {
		return err
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, margin+5)
	pdf.SetCreationDate(r.Printed)
	pdf.SetModificationDate(r.Printed)
	pdf.SetTitle("NeuroNova report of order "+r.Order.ID, true)
	pdf.SetCreator("NeuroNova", true)
	pdf.AliasNbPages("{nb}")
	d := &doc{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor("")}
	pdf.SetFooterFunc(func() {
		pdf.SetY(-margin)
		d.font("", 8)
		pdf.CellFormat(textW, 5, d.tr(fmt.Sprintf("Order %s · printed by %s on %s · page %d/{nb}", r.Order.ID, r.PrintedBy,
			r.Printed.Local().Format("2006-01-02 15:04"), pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	d.header(r.Order)
	d.report(r.Order, rep)
	d.results(r.Results)
	d.images(r.Images)
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("PDF: %w", err)
	}
	return pdf.Output(w)
}

// doc writes text in the PDF's core fonts (Windows-1252: tr translates from UTF-8).
type doc struct {
	pdf *fpdf.Fpdf
	tr  func(string) string
}

func (d *doc) font(style string, size float64) { d.pdf.SetFont("Helvetica", style, size) }

func (d *doc) heading(s string) {
	d.pdf.Ln(3)
	d.font("B", 12)
	d.pdf.CellFormat(textW, 7, d.tr(s), "B", 1, "L", false, 0, "")
	d.pdf.Ln(1)
}

// field writes a label and its value, the value wrapped.
func (d *doc) field(label, value string) {
	if strings.TrimSpace(value) == "" {
		value = "—"
	}
	d.font("B", 10)
	d.pdf.CellFormat(42, 5.5, d.tr(label), "", 0, "L", false, 0, "")
	d.font("", 10)
	d.pdf.MultiCell(textW-42, 5.5, d.tr(value), "", "L", false)
}

func (d *doc) paragraph(s string) {
	if strings.TrimSpace(s) == "" {
		s = "—"
	}
	d.font("", 10)
	d.pdf.MultiCell(textW, 5.5, d.tr(s), "", "L", false)
}

func (d *doc) header(o api.Order) {
	d.font("B", 16)
	d.pdf.CellFormat(textW, 9, d.tr("NeuroNova — imaging report"), "", 1, "L", false, 0, "")
	d.font("", 9)
	d.pdf.CellFormat(textW, 5, d.tr("AI results in this report are decision support only: read them with the images."), "", 1, "L", false, 0, "")
	d.heading("Patient and order")
	d.field("Patient", fmt.Sprintf("%s (%s)", o.PatientName, o.PatientNumber))
	d.field("Order", fmt.Sprintf("%s · %s %s · %s · %s", o.ID, o.JobRole, o.JobType, o.Priority, o.Status))
	d.field("Ordered by", fmt.Sprintf("%s on %s", o.DoctorName, o.CreatedAt.Local().Format("2006-01-02 15:04")))
	d.field("Read by", o.WorkerName)
	if o.ConfirmedAt != nil {
		d.field("Confirmed", o.ConfirmedAt.Local().Format("2006-01-02 15:04"))
	}
	var req struct {
		Clinical string `json:"clinical_info"`
	}
	if json.Unmarshal(o.DoctorRequest, &req) == nil {
		d.field("Clinical information", req.Clinical)
	}
}

func (d *doc) report(o api.Order, r api.RISReport) {
	if r.DICOM.StudyUID != "" {
		d.field("Study", fmt.Sprintf("%s (accession %s)", r.DICOM.StudyUID, r.DICOM.AccessionNumber))
	}
	d.heading("Findings")
	d.paragraph(r.Findings)
	d.heading("Impression")
	d.paragraph(r.Impression)
	d.heading("Recommendation")
	d.paragraph(r.Recommendation)
	d.heading("Tumour")
	detected := "not stated"
	if r.Tumor.Detected != nil {
		detected = map[bool]string{true: "yes", false: "no"}[*r.Tumor.Detected]
	}
	d.field("Detected", detected)
	d.field("Location", strings.Trim(r.Tumor.Location.Lobe+" lobe, "+r.Tumor.Location.Hemisphere+" hemisphere", " ,"))
	d.field("Largest diameter", number(r.Tumor.Size.MaxDiameterCM, "cm"))
	d.field("Volume", number(r.Tumor.Size.VolumeCC, "mL"))
}

func number(v *float64, unit string) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64) + " " + unit
}

func (d *doc) results(rs []api.AIResult) {
	d.heading("AI results")
	if len(rs) == 0 {
		d.paragraph("No AI result for this order.")
		return
	}
	for _, r := range rs {
		s, err := api.ParseM1Summary(r.Result)
		if err != nil {
			d.field(r.ID, fmt.Sprintf("%s %s (not an M1 result the workstation reads)", r.Model, r.ModelVersion))
			continue
		}
		d.pdf.SetTextColor(170, 20, 20)
		d.font("B", 10)
		d.pdf.MultiCell(textW, 5.5, d.tr(s.Banner), "", "L", false)
		d.pdf.SetTextColor(0, 0, 0)
		d.field("Result", fmt.Sprintf("%s, %s on %s", r.ID, r.Model, r.CreatedAt.Local().Format("2006-01-02 15:04")))
		d.field("Model", fmt.Sprintf("%s version %s (%s)", s.Model.ID, s.Model.Version, s.Model.Status))
		d.field("Model sha256", s.Model.SHA256)
		d.field("Runtime", strings.TrimSpace("ONNX Runtime "+s.Runtime.ORTVersion+", "+s.Runtime.Provider.Used))
		d.field("Output", strings.Join(s.Lines(), "\n"))
		review := r.ReviewStatus
		if r.ReviewComment != "" {
			review += ": " + r.ReviewComment
		}
		d.field("Review", review)
		d.pdf.Ln(2)
	}
}

// images prints up to four key images, two a row.
func (d *doc) images(imgs []image.Image) {
	if len(imgs) == 0 {
		return
	}
	d.heading("Key images")
	const w = (textW - 6) / 2
	for i, img := range imgs[:min(len(imgs), 4)] {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			d.pdf.SetError(err)
			return
		}
		b := img.Bounds()
		h := w * float64(b.Dy()) / float64(max(b.Dx(), 1))
		if i%2 == 0 && d.pdf.GetY()+h > 297-margin-5 {
			d.pdf.AddPage()
		}
		y := d.pdf.GetY()
		name := fmt.Sprintf("key%d", i)
		d.pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, &buf)
		d.pdf.ImageOptions(name, margin+float64(i%2)*(w+6), y, w, h, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		if i%2 == 1 || i == len(imgs)-1 {
			d.pdf.SetY(y + h + 4)
		}
	}
}
