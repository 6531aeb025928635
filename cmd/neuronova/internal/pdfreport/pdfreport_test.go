package pdfreport

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testenv"
)

// TestWriteReadsBack: pdftotext (poppler) reads back the header, the report, the AI result's banner, volumes
// and provenance; the key images are embedded.
func TestWriteReadsBack(t *testing.T) {
	confirmed := time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)
	o := api.Order{ID: "ocs_0042", PatientName: "Jane Doe", PatientNumber: "P202600042", JobRole: api.JobRIS, JobType: "MRI",
		Priority: "urgent", Status: api.OrderConfirmed, DoctorName: "Dr Strange", WorkerName: "Rita Ris", CreatedAt: confirmed.Add(-time.Hour),
		ConfirmedAt: &confirmed, DoctorRequest: json.RawMessage(`{"clinical_info":"seizures since May"}`),
		WorkerResult: json.RawMessage(`{"findings":"A ring-enhancing mass in the left frontal lobe.","impression":"High-grade glioma — likely.",
			"recommendation":"Neurosurgical referral.","tumor":{"detected":true,"location":{"lobe":"frontal","hemisphere":"left"},"size":{"max_diameter_cm":4.2,"volume_cc":40.9}},
			"dicom":{"study_uid":"1.2.3","accession_number":"ocs_0042"}}`)}
	res := api.AIResult{ID: "ai_req_0007", Model: "M1", ModelVersion: "1.0.0", ReviewStatus: "approved", ReviewComment: "agrees", CreatedAt: confirmed,
		Result: json.RawMessage(`{"banner":"DEMONSTRATION MODEL — trained on synthetic phantoms — not for clinical use",
			"model":{"id":"m1-demo","version":"1.0.0","sha256":"32c5af7cc60c4dec8988c82c88ea7c9b29900f7f3a17b8c205a984dd272d9d0f","status":"demonstration"},
			"runtime":{"provider":{"used":"cpu"},"ort_version":"1.30.0"},"volumes_ml":{"ncr":5.754,"ed":21.258,"et":13.932,"wt":40.944,"tc":19.686},
			"grade":{"predicted_class":"G4","probability":1},"idh":{"predicted_class":"Wildtype","probability":0.99},"mgmt":{"predicted_class":"Unmethylated","probability":1},
			"survival_risk":{"risk_score":0.73,"risk_group":"High"}}`)}
	var imgs []image.Image
	for k := range 3 {
		img := image.NewRGBA(image.Rect(0, 0, 64, 48))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * (k + 1))
			if i%4 == 3 {
				img.Pix[i] = 255 // opaque, as viewports are
			}
		}
		img.Set(3, 3, color.RGBA{255, 0, 0, 255})
		imgs = append(imgs, img)
	}
	var buf bytes.Buffer
	if err := Write(&buf, Report{Order: o, Results: []api.AIResult{res}, Images: imgs, PrintedBy: "drstrange", Printed: confirmed}); err != nil {
		t.Fatal(err)
	}
	text := PDFText(t, buf.Bytes())
	for _, want := range []string{"Jane Doe (P202600042)", "ocs_0042", "Dr Strange", "Rita Ris", "seizures since May",
		"A ring-enhancing mass in the left frontal lobe.", "High-grade glioma — likely.", "Neurosurgical referral.", "frontal lobe, left hemisphere",
		"4.2 cm", "40.9 mL", "DEMONSTRATION MODEL — trained on synthetic phantoms — not for clinical use",
		"32c5af7cc60c4dec8988c82c88ea7c9b29900f7f3a17b8c205a984dd272d9d0f", "m1-demo version 1.0.0", "WT 40.94", "ET 13.93",
		"grade G4", "approved: agrees", "printed by drstrange", "Key images"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	if n := bytes.Count(buf.Bytes(), []byte("/Subtype /Image")); n != 3 {
		t.Errorf("%d images embedded, want 3", n)
	}
}

// PDFText is the text pdftotext reads from a PDF, its layout kept.
func PDFText(t testing.TB, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		testenv.Missing(t, "pdftotext", "reading PDF reports back", "scripts/setup.sh (apt-get install poppler-utils)")
	}
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}
