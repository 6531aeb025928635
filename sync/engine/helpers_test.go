package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// The tests share one server side (Redis, Orthanc, neuronova-server --demo as processes) started on first
// use; the fault test kills and restarts its processes and leaves them running.
var shared *testsvc.Stack

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childRound())
	}
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

func serverSide(t testing.TB) *testsvc.Stack {
	t.Helper()
	testsvc.RequireStack(t)
	if shared == nil {
		s, err := testsvc.StartStack(testsvc.StackOptions{Demo: true})
		if err != nil {
			t.Fatal(err)
		}
		shared = s
	}
	return shared
}

const risUser = "ris1"

// newEngine opens a fresh cache and an engine for it on the server at url.
func newEngine(t testing.TB, url string, opts Options) (*Engine, *cache.Cache) {
	t.Helper()
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"), cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return engineOn(t, c, url, opts), c
}

func engineOn(t testing.TB, c *cache.Cache, url string, opts Options) *Engine {
	t.Helper()
	cl, err := client.New(url, client.Options{RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = 4
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = 100 * time.Millisecond
	}
	if opts.RoundRetryMax == 0 {
		opts.RoundRetryMax = 300 * time.Millisecond
	}
	return New(c, cl, opts)
}

// localStudy imports a small study of the demo patient into the cache (the study results are recorded
// on) and returns its UID.
func localStudy(t testing.TB, c *cache.Cache) string {
	t.Helper()
	dir := t.TempDir()
	study, series := testsvc.NewUID(), testsvc.NewUID()
	for i := 1; i <= 3; i++ {
		b := testsvc.DICOM(testsvc.Instance{PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: study, SeriesUID: series,
			SOPUID: testsvc.NewUID(), SeriesDescription: "T1CE", InstanceNumber: i})
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.dcm", i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := c.Import(context.Background(), []string{dir}, nil)
	if err != nil || sum.Imported != 3 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	return study
}

// segFor is a DICOM object standing in for a SEG of the study: a new series and SOP Instance UID, the
// demo patient's PatientID.
func segFor(study string) (sop string, b []byte) {
	sop = testsvc.NewUID()
	return sop, testsvc.DICOM(testsvc.Instance{PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: study,
		SeriesUID: testsvc.NewUID(), SOPUID: sop, SeriesDescription: "SEG"})
}

// m1Result is an M1 result JSON carrying a nonce, by which the test finds it on the server.
func m1Result(nonce string) []byte {
	b, _ := json.Marshal(map[string]any{"nonce": nonce, "model_version": "demo-0.1", "volumes_ml": map[string]float64{"ET": 12.5, "ED": 30.1, "NCR": 4.2}, "grade": "G4"})
	return b
}
