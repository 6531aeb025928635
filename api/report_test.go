package api

import (
	"encoding/json"
	"strings"
	"testing"
)

const m1Sample = `{"schema":"neuronova.inference-result/1","banner":"DEMONSTRATION MODEL — not for clinical use",
"model":{"id":"m1-demo","version":"1.0.0","sha256":"32c5af7c","status":"demonstration"},"runtime":{"provider":{"used":"cpu"},"ort_version":"1.30.0"},
"volumes_ml":{"ncr":5.754,"ed":21.258,"et":13.932,"wt":40.944,"tc":19.686},
"grade":{"predicted_class":"G4","probability":1},"idh":{"predicted_class":"Wildtype","probability":0.9993},
"mgmt":{"predicted_class":"Unmethylated","probability":1},"survival_risk":{"risk_score":0.7258,"risk_group":"High"}}`

func TestM1Summary(t *testing.T) {
	s, err := ParseM1Summary(json.RawMessage(m1Sample))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(s.Lines(), "\n")
	want := "volumes (mL): NCR 5.75  ED 21.26  ET 13.93  WT 40.94  TC 19.69\ngrade G4 (1.00)  IDH Wildtype (1.00)  MGMT Unmethylated (1.00)\nsurvival risk 0.73: High"
	if got != want || s.Model.SHA256 != "32c5af7c" || s.Runtime.Provider.Used != "cpu" {
		t.Errorf("lines:\n%s\nwant:\n%s\n(%+v)", got, want, s.Model)
	}
	if _, err := ParseM1Summary(json.RawMessage(`{"volumes_ml":{}}`)); err == nil {
		t.Error("a result without a model was read")
	}
	r, err := ParseRISReport(json.RawMessage(`{"_template":"RIS","findings":"f","tumor":{"detected":true,"location":{"lobe":"frontal","hemisphere":"left"},"size":{"max_diameter_cm":3.1,"volume_cc":null}}}`))
	if err != nil || r.Findings != "f" || r.Tumor.Detected == nil || !*r.Tumor.Detected || *r.Tumor.Size.MaxDiameterCM != 3.1 || r.Tumor.Size.VolumeCC != nil {
		t.Errorf("RIS report %+v %v", r, err)
	}
}

func FuzzParseM1Summary(f *testing.F) {
	f.Add([]byte(m1Sample))
	f.Add([]byte(`{"model":{"id":"x"},"grade":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseM1Summary(b)
		if err != nil {
			return
		}
		if s.Model.ID == "" || len(s.Lines()) < 2 {
			t.Fatalf("accepted %+v", s)
		}
	})
}

func FuzzParseRISReport(f *testing.F) {
	f.Add([]byte(`{"_template":"RIS","findings":"f","tumor":{"detected":true}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRISReport(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := ParseRISReport(out); err != nil || again.Findings != r.Findings || again.Impression != r.Impression {
			t.Fatalf("round trip %+v → %+v %v", r, again, err)
		}
	})
}
