package testsvc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestRedisAnswersPing(t *testing.T) {
	addr := Redis(t)
	if err := PingRedis(addr); err != nil {
		t.Fatalf("shared redis at %s: %v", addr, err)
	}
	if again := Redis(t); again != addr {
		t.Fatalf("the shared redis moved from %s to %s", addr, again)
	}
}

func TestFreshRedisStopsWithItsTest(t *testing.T) {
	var addr string
	t.Run("inner", func(t *testing.T) {
		addr = FreshRedis(t)
		if addr == Redis(t) {
			t.Fatalf("fresh redis has the shared address %s", addr)
		}
		if err := PingRedis(addr); err != nil {
			t.Fatalf("fresh redis: %v", err)
		}
	})
	if err := PingRedis(addr); err == nil {
		t.Fatalf("fresh redis at %s still answers after its test ended", addr)
	}
}

func orthancGet(t *testing.T, url, user, password, path string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+path, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}

func TestOrthancNeedsCredentialsAndStoresOurDICOM(t *testing.T) {
	url, user, password := Orthanc(t)
	if resp, _ := orthancGet(t, url, "", "", "/system"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /system without credentials answered %s, want 401", resp.Status)
	}
	inst := Instance{PatientID: "TESTSVC-1", PatientName: "TEST^SVC", StudyUID: NewUID(), SeriesUID: NewUID(), SOPUID: NewUID(),
		SeriesDescription: "AX T1"}
	req, _ := http.NewRequest(http.MethodPost, url+"/instances", bytes.NewReader(DICOM(inst)))
	req.SetBasicAuth(user, password)
	req.Header.Set("Content-Type", "application/dicom")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var stored struct{ ID, Status string }
	json.NewDecoder(resp.Body).Decode(&stored)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || stored.Status != "Success" {
		t.Fatalf("upload answered %s %+v", resp.Status, stored)
	}
	_, body := orthancGet(t, url, user, password, "/instances/"+stored.ID+"/simplified-tags")
	var tags map[string]any
	if err := json.Unmarshal(body, &tags); err != nil {
		t.Fatalf("tags: %v: %s", err, body)
	}
	if tags["SOPInstanceUID"] != inst.SOPUID || tags["PatientID"] != inst.PatientID || tags["SeriesDescription"] != "AX T1" {
		t.Fatalf("Orthanc read back %v", tags)
	}
	resp, body = orthancGet(t, url, user, password, "/dicom-web/studies/"+inst.StudyUID+"/series")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), inst.SeriesUID) {
		t.Fatalf("DICOMweb series of the study answered %s: %.300s", resp.Status, body)
	}
}

func TestFreshOrthancIsEmptyAndStops(t *testing.T) {
	var url string
	t.Run("inner", func(t *testing.T) {
		var user, password string
		url, user, password = FreshOrthanc(t)
		_, body := orthancGet(t, url, user, password, "/instances")
		if strings.TrimSpace(string(body)) != "[]" {
			t.Fatalf("fresh Orthanc holds instances: %s", body)
		}
	})
	if _, err := http.Get(url + "/system"); err == nil {
		t.Fatalf("fresh Orthanc at %s still answers after its test ended", url)
	}
}

func TestNewUIDIsAValidUID(t *testing.T) {
	for range 100 {
		u := NewUID()
		if len(u) > 64 || !strings.HasPrefix(u, "2.25.") || strings.HasPrefix(u, "2.25.0") && u != "2.25.0" {
			t.Fatalf("bad UID %q", u)
		}
	}
}
