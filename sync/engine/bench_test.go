package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	viewerdemo "github.com/neuronova/neuronova/viewer/demo"
)

// demoStudy finds the Orthanc ID of the 620-instance demo study.
func demoStudy(b *testing.B, e *Engine, c *cache.Cache) (string, int) {
	b.Helper()
	ctx := context.Background()
	if _, err := e.Round(ctx, nil); err != nil { // the feed: the demo patient's id
		b.Fatal(err)
	}
	pid, err := c.RemotePatientByNumber(ctx, viewerdemo.PatientID)
	if err != nil {
		b.Fatal(err)
	}
	studies, err := e.Client().PatientStudies(ctx, pid)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range studies {
		m, err := e.Client().StudyManifest(ctx, st.OrthancID)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Instances) >= 620 {
			return st.OrthancID, len(m.Instances)
		}
	}
	b.Fatal("no study of 620 instances")
	return "", 0
}

// BenchmarkPullDemoStudy: the demo study pulled through the server proxy into an empty cache (manifest,
// series streams, each instance verified by size and MD5, imported and indexed) against curl downloading
// Orthanc's own ZIP archive of the study directly (no verification, no import). The two alternate run by
// run, so that a load that comes and goes on the machine hits both alike; it reports the median of each
// and their ratio (curl / engine: ≥ 1 means the engine is at least as fast). scripts/bench-sync.sh prints it.
func BenchmarkPullDemoStudy(b *testing.B) {
	s := serverSide(b)
	ctx := context.Background()
	e, c := newEngine(b, s.URL, Options{NoPrefetch: true})
	if _, err := e.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
		b.Fatal(err)
	}
	id, n := demoStudy(b, e, c)
	out := filepath.Join(b.TempDir(), "study.zip")
	var engine, curl []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dc, err := cache.Open(filepath.Join(b.TempDir(), fmt.Sprint(i)), cache.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		de := New(dc, e.Client(), Options{NoPrefetch: true})
		start := time.Now()
		sum, err := de.Prefetch(ctx, id, nil)
		engine = append(engine, time.Since(start).Seconds())
		if err != nil || sum.Pulled < n {
			b.Fatalf("prefetch %+v %v", sum, err)
		}
		dc.Close()

		start = time.Now()
		cmd := exec.Command("curl", "-sf", "-u", s.OrthancUser+":"+s.OrthancPassw, "-o", out, s.OrthancURL+"/studies/"+id+"/archive")
		if b, err := cmd.CombinedOutput(); err != nil {
			panic(fmt.Sprintf("curl: %v %s", err, b))
		}
		curl = append(curl, time.Since(start).Seconds())
	}
	me, mc := median(engine), median(curl)
	b.ReportMetric(me, "engine-s")
	b.ReportMetric(mc, "curl-archive-s")
	b.ReportMetric(mc/me, "ratio")
	b.ReportMetric(float64(n)/me, "instances/s")
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// BenchmarkPush620Instances: 620 BraTS-size instances (240×240, 16 bits) recorded as SEG results of one study
// and sent by the outbox relay — STOW-RS requests of 16, Workers (4) at a time, each SEG confirmed by its SOP
// Instance UID and MD5 in the study's manifest, the confirmations recorded in one transaction — against four
// parallel curl loops POSTing the same files straight to Orthanc's /instances. relay goes to the one server
// (one replica, plain HTTP); relay-two-replicas goes through the production HAProxy configuration (TLS) to it
// and a second replica on the same database, Redis and Orthanc. scripts/bench-sync.sh prints the ratios.
func BenchmarkPush620Instances(b *testing.B) {
	s := serverSide(b)
	ctx := context.Background()
	const n = 620
	files := func(dir, study string) [][]byte {
		out := make([][]byte, n)
		series := testsvc.NewUID()
		for i := range out {
			out[i] = testsvc.DICOM(testsvc.Instance{PatientID: viewerdemo.PatientID, PatientName: "DEMO^PHANTOM", StudyUID: study,
				SeriesUID: series, SOPUID: testsvc.NewUID(), SeriesDescription: "BENCH", InstanceNumber: i + 1, Rows: 240, Columns: 240})
			if dir != "" {
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d.dcm", i)), out[i], 0o600)
			}
		}
		return out
	}
	relay := func(b *testing.B, url string, hc *http.Client) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			c, err := cache.Open(filepath.Join(b.TempDir(), "cache"), cache.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			cl, err := client.New(url, client.Options{HTTP: hc, RequestTimeout: 10 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			e := New(c, cl, Options{NoPrefetch: true, BcryptCost: 4})
			if _, err := e.Login(ctx, risUser, s.Accounts[risUser]); err != nil {
				b.Fatal(err)
			}
			study := localStudy(b, c)
			inputs := make([]cache.ResultInput, 0, n)
			for _, f := range files("", study) {
				inputs = append(inputs, cache.ResultInput{Kind: "seg", Payload: f})
			}
			if _, err := c.RecordResults(ctx, study, inputs); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			sum, err := e.Round(ctx, nil)
			b.StopTimer()
			if err != nil || sum.SEGs != n {
				b.Fatalf("round %+v %v", sum, err)
			}
			c.Close()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "instances/s")
	}
	b.Run("relay", func(b *testing.B) { relay(b, s.URL, nil) })
	b.Run("relay-two-replicas", func(b *testing.B) {
		p, addr, err := s.StartReplica()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Kill)
		proxy := testsvc.StartHAProxy(b, strings.TrimPrefix(s.URL, "http://"), addr)
		tr := proxy.Client.Transport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		hc := &http.Client{Transport: tr}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if resp, err := hc.Get(proxy.URL + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatal("HAProxy found no ready replica")
			}
		}
		time.Sleep(2500 * time.Millisecond) // the health checks (rise 2, inter 1 s) bring up the second replica too
		relay(b, proxy.URL, hc)
	})
	b.Run("curl-x4", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			files(dir, testsvc.NewUID())
			script := `ls "$1"/*.dcm | split -n r/4 - "$1"/part.; for p in "$1"/part.*; do (while read f; do curl -sf -u "$2" -X POST --data-binary @"$f" "$3"/instances >/dev/null || exit 1; done < "$p") & done; wait`
			b.StartTimer()
			out, err := exec.Command("bash", "-c", script, "bash", dir, s.OrthancUser+":"+s.OrthancPassw, s.OrthancURL).CombinedOutput()
			b.StopTimer()
			if err != nil {
				b.Fatalf("curl loops: %v %s", err, out)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "instances/s")
	})
}
