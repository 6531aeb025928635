package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
)

// percentile returns the p-th percentile (0–100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// get sends one GET and drains the answer; it returns the status.
func get(client *http.Client, url, user, password, token string) (int, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// BenchmarkAuthenticatedGET measures the throughput and latency of an authenticated patient read — token
// verification, the Redis gate (revocation and rate limit), the role check, the SQLite read and the committed
// audit record — with parallel clients on loopback. The rate limit is lifted so that the server, not the
// limiter, is measured. Figures: req/s, p50 and p99 in µs.
func BenchmarkAuthenticatedGET(b *testing.B) {
	e := newEnv(b, fast)
	p := e.patient(nil, nil)
	doctor := e.users[api.RoleDoctor]
	url := fmt.Sprintf("%s/api/patients/%d/", e.ts.URL, p.ID)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	if status, err := get(client, url, "", "", doctor.token); err != nil || status != http.StatusOK {
		b.Fatalf("warm-up: %d %v", status, err)
	}
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(4) // 4 × GOMAXPROCS clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			status, err := get(client, url, "", "", doctor.token)
			mine = append(mine, time.Since(t0))
			if err != nil || status != http.StatusOK {
				b.Errorf("GET %s: %d %v", url, status, err)
				return
			}
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(percentile(all, 50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(all, 99).Microseconds()), "p99-µs")
}

// BenchmarkProxyOverhead fetches the same data from Orthanc directly and through /api/orthanc/ —
// authenticated, role-checked, audited, streamed — alternating the two so that both see the same machine load.
// Workloads: one MR slice (256² and 512², 16-bit) as the viewer fetches it, the DICOMweb metadata of a
// 64-slice series, and the ZIP archive of that series as an AI worker downloads it. Figures: p50 of each path
// in µs, the proxy's p99, and the p50 ratio (the target is ≤ 1.1).
func BenchmarkProxyOverhead(b *testing.B) {
	e := newEnv(b, fast)
	p := e.patient(nil, nil)
	ctx := context.Background()
	upload := func(size, n int) (studyUID, seriesUID, seriesID, instanceID string) {
		studyUID, seriesUID = testsvc.NewUID(), testsvc.NewUID()
		for i := range n {
			stored, err := e.pacs.Upload(ctx, testsvc.DICOM(testsvc.Instance{PatientID: p.Number, PatientName: "BENCH^PATIENT",
				StudyUID: studyUID, SeriesUID: seriesUID, SOPUID: testsvc.NewUID(), SeriesDescription: "AX T1",
				InstanceNumber: i + 1, Rows: size, Columns: size}))
			if err != nil {
				b.Fatal(err)
			}
			seriesID, instanceID = stored.ParentSeries, stored.ID
		}
		return
	}
	_, _, _, slice256 := upload(256, 1)
	_, _, _, slice512 := upload(512, 1)
	studyUID, seriesUID, seriesID, _ := upload(256, 64)
	for _, w := range []struct{ name, path string }{
		{"slice-256", "/instances/" + slice256 + "/file"},
		{"slice-512", "/instances/" + slice512 + "/file"},
		{"series-metadata-64", "/dicom-web/studies/" + studyUID + "/series/" + seriesUID + "/metadata"},
		{"series-archive-64", "/series/" + seriesID + "/archive"},
	} {
		b.Run(w.name, func(b *testing.B) { benchProxy(b, e, w.path) })
	}
	// The floor: a bare pass-through proxy in Go (no token, no Redis, no audit) on the same machine, for the
	// slice. Whatever it adds, any proxy adds; the rest is the cost of the checks and the audit record.
	slice := "/instances/" + slice256 + "/file"
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := e.pacs.Do(r.Context(), "GET", slice, "", nil, nil, 0)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Length", resp.Header.Get("Content-Length"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer bare.Close()
	b.Run("slice-256-bare-go-proxy", func(b *testing.B) { benchProxyRaw(b, e, bare.URL+slice, slice, "") })
}

func benchProxy(b *testing.B, e *env, path string) {
	benchProxyRaw(b, e, e.ts.URL+"/api/orthanc"+path, path, e.users[api.RoleDoctor].token)
}

// benchProxyRaw alternates GETs of Orthanc's path and of proxied (with token, when given).
func benchProxyRaw(b *testing.B, e *env, proxied, path, token string) {
	direct := e.orthanc.url + path
	// Both paths without compression, as the server talks to Orthanc and as a viewer fetching DICOM does.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	defer client.CloseIdleConnections()
	for range 10 { // warm both paths: connections, Orthanc's cache, the server's code paths
		if s, err := get(client, direct, e.orthanc.user, e.orthanc.password, ""); err != nil || s != http.StatusOK {
			b.Fatalf("direct %s: %d %v", path, s, err)
		}
		if s, err := get(client, proxied, "", "", token); err != nil || s != http.StatusOK {
			b.Fatalf("proxy %s: %d %v", path, s, err)
		}
	}
	var d, px []time.Duration
	b.ResetTimer()
	for i := range b.N {
		// Alternate which goes first so neither always follows the other.
		for _, viaProxy := range []bool{i%2 == 0, i%2 != 0} {
			t0 := time.Now()
			var s int
			var err error
			if viaProxy {
				s, err = get(client, proxied, "", "", token)
				px = append(px, time.Since(t0))
			} else {
				s, err = get(client, direct, e.orthanc.user, e.orthanc.password, "")
				d = append(d, time.Since(t0))
			}
			if err != nil || s != http.StatusOK {
				b.Fatalf("proxy=%v %s: %d %v", viaProxy, path, s, err)
			}
		}
	}
	b.StopTimer()
	slices.Sort(d)
	slices.Sort(px)
	dp50, pp50 := percentile(d, 50), percentile(px, 50)
	b.ReportMetric(float64(dp50.Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(pp50.Microseconds()), "proxy-p50-µs")
	b.ReportMetric(float64(percentile(px, 99).Microseconds()), "proxy-p99-µs")
	if dp50 > 0 {
		b.ReportMetric(float64(pp50)/float64(dp50), "p50-ratio")
	}
}
