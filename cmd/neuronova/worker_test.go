package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

// TestWorkerCommandLine: the worker's usage errors exit 2 and name what was wrong; --help documents the flags.
func TestWorkerCommandLine(t *testing.T) {
	t.Setenv("NEURONOVA_USER", "")
	t.Setenv("NEURONOVA_PASSWORD", "pw")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"worker"}, "worker needs --user"},
		{[]string{"worker", "--user", "ris1", "--poll", "30s"}, "--poll 30s"},
		{[]string{"worker", "--user", "ris1", "--job-timeout", "0s"}, "--job-timeout 0s"},
		{[]string{"worker", "--user", "ris1", "extra"}, "takes no arguments"},
		{[]string{"worker", "--user", "ris1", "--jobs", "m1,x9"}, "--jobs"},
	} {
		code, _, stderr := runCmd(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr lacks %q:\n%s", c.args, code, c.want, stderr)
		}
	}
	code, _, stderr := runCmd("worker", "--help")
	for _, want := range []string{"-poll", "-once", "-jobs", "-job-timeout", "-provider", "visibility timeout", "SIGTERM"} {
		if code != 0 || !strings.Contains(stderr, want) {
			t.Errorf("worker --help: exit %d, lacks %q", code, want)
		}
	}
}

// TestParseM1Inputs: empty inputs are the defaults; a sequence choice and a reference are read; unknown fields,
// unknown sequence types and empty UIDs make the job invalid (failed without a retry).
func TestParseM1Inputs(t *testing.T) {
	in, choice, ref, err := parseM1Inputs(nil)
	if err != nil || in.ModelID != "" || choice != nil || ref != "" {
		t.Errorf("no inputs: %+v %v %q %v", in, choice, ref, err)
	}
	in, choice, ref, err = parseM1Inputs(json.RawMessage(`{"model_id":"m1-demo","series":{"t1ce":"1.2.3","FLAIR":"1.2.4"},"reference":"FLAIR"}`))
	if err != nil || in.ModelID != "m1-demo" || choice[viewer.T1CE] != "1.2.3" || len(choice) != 2 || ref != viewer.FLAIR {
		t.Errorf("inputs: %+v %v %q %v", in, choice, ref, err)
	}
	if in, _, _, err := parseM1Inputs(json.RawMessage(`{"studies":["1.2.5","1.2.6"]}`)); err != nil || len(in.Studies) != 2 {
		t.Errorf("an exam's studies: %+v %v", in, err)
	}
	many := `{"studies":["1.2"` + strings.Repeat(`,"1.2"`, maxExamStudies) + `]}`
	for _, bad := range []string{`{"genes":"x.csv"}`, `{"series":{"T9":"1.2"}}`, `{"series":{"T1":" "}}`, `{"reference":"CT"}`, `[1]`, `{`,
		`{"studies":["1.2.x"]}`, `{"studies":[""]}`, many} {
		if _, _, _, err := parseM1Inputs(json.RawMessage(bad)); !errors.Is(err, errJobInvalid) {
			t.Errorf("%s: %v, want an invalid job", bad, err)
		}
	}
}

// FuzzParseM1Inputs: any job inputs give inputs or an invalid-job error, never a panic; a chosen series always
// has a UID.
func FuzzParseM1Inputs(f *testing.F) {
	f.Add([]byte(`{"model_id":"m1-demo","series":{"T1CE":"1.2.3"},"reference":"T1CE"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"series":{"":""}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, choice, _, err := parseM1Inputs(json.RawMessage(b))
		if err != nil {
			if !errors.Is(err, errJobInvalid) {
				t.Fatalf("%q: %v is not an invalid-job error", b, err)
			}
			return
		}
		for k, uid := range choice {
			if strings.TrimSpace(uid) == "" {
				t.Fatalf("%q: series %s chosen without a UID", b, k)
			}
		}
	})
}

// TestInferOnServerCommandLine: --on-server (and only a true one) sends infer to the server's queue, whose
// usage errors exit 2 and name what was wrong.
func TestInferOnServerCommandLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"--model", "m1", "--on-server"}, true},
		{[]string{"-on-server=true", "--model", "m1"}, true},
		{[]string{"--on-server=false", "--model", "m1"}, false},
		{[]string{"--model", "m1", "--", "--on-server"}, false},
		{[]string{"--input", "on-server"}, false},
	} {
		if got := onServerRequested(c.args); got != c.want {
			t.Errorf("%q: on the server %v, want %v", c.args, got, c.want)
		}
	}
	t.Setenv("NEURONOVA_USER", "")
	t.Setenv("NEURONOVA_PASSWORD", "pw")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"infer", "--model", "x9", "--input", "x", "--on-server"}, "needs --model m1, mg or mm and --input STUDY"},
		{[]string{"infer", "--model", "m1", "--on-server"}, "needs --model m1, mg or mm and --input STUDY"},
		{[]string{"infer", "--model", "m1", "--input", "x", "--on-server"}, "needs --user LOGIN"},
		{[]string{"infer", "--model", "mg", "--input", "x", "--on-server", "--user", "d"}, "needs --genes CSV"},
		{[]string{"infer", "--model", "mg", "--input", "x", "--on-server", "--user", "d", "--genes", "g.csv", "--series", "T1=1"}, "--series and --reference are for --model m1"},
		{[]string{"infer", "--model", "mm", "--input", "x", "--on-server", "--user", "d", "--reference", "T1"}, "--series and --reference are for --model m1"},
		{[]string{"infer", "--model", "mg", "--input", "x", "--on-server", "--user", "d", "--genes", "g.csv", "--proteins", "p.csv"}, "--proteins is for --model mm"},
		{[]string{"infer", "--model", "m1", "--input", "x", "--on-server", "--user", "d", "--genes", "g.csv"}, "--genes is for --model mg or mm"},
		{[]string{"infer", "--model", "m1", "--input", "x", "--on-server", "--user", "d", "--series", "T9=1"}, "--series"},
	} {
		code, _, stderr := runCmd(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr lacks %q:\n%s", c.args, code, c.want, stderr)
		}
	}
}

// TestParseMGInputs: an MG job's inputs carry its gene CSV; without it, or with unknown fields, the job is
// invalid (failed without a retry).
func TestParseMGInputs(t *testing.T) {
	in, err := parseMGInputs(json.RawMessage(`{"genes_csv":"Hugo_Symbol,Entrez_Gene_Id,Expression\nEGFR,1956,12.5\n","genes_name":"t.csv"}`))
	if err != nil || !strings.HasPrefix(in.GenesCSV, "Hugo_Symbol,") || in.GenesName != "t.csv" {
		t.Errorf("inputs: %+v %v", in, err)
	}
	for _, bad := range []string{``, `null`, `{}`, `{"genes_csv":"  "}`, `{"genes_csv":"a","series":{}}`, `"x"`} {
		if _, err := parseMGInputs(json.RawMessage(bad)); !errors.Is(err, errJobInvalid) {
			t.Errorf("%q: %v, want an invalid job", bad, err)
		}
	}
}

// FuzzParseMGInputs: any MG job inputs give inputs with a gene CSV or an invalid-job error, never a panic.
func FuzzParseMGInputs(f *testing.F) {
	f.Add([]byte(`{"model_id":"mg-demo","genes_csv":"Hugo_Symbol,Entrez_Gene_Id,Expression\n","genes_name":"g.csv"}`))
	f.Add([]byte(`{"genes_csv":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parseMGInputs(json.RawMessage(b))
		if err != nil {
			if !errors.Is(err, errJobInvalid) {
				t.Fatalf("%q: %v is not an invalid-job error", b, err)
			}
			return
		}
		if strings.TrimSpace(in.GenesCSV) == "" {
			t.Fatalf("%q: accepted without a gene CSV", b)
		}
	})
}
