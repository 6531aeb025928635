package testsvc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// OrthancPlugins is where Debian installs Orthanc's plugins.
const OrthancPlugins = "/usr/share/orthanc/plugins"

// GDCMConfig limits the GDCM plugin to JPEG 2000, which Orthanc's own DCMTK codecs lack; JPEG, JPEG-LS
// and RLE stay with DCMTK. Transcoding JPEG Lossless and JPEG-LS through GDCM (Debian's plugin 1.5 with
// Orthanc 1.10.1) was seen to crash Orthanc.
var GDCMConfig = map[string]any{"Enable": true, "RestrictTransferSyntaxes": []string{
	"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93"}}

var (
	orthancOnce sync.Once
	orthancInst OrthancInstance
	orthancErr  error
)

// OrthancInstance is a running Orthanc: its base URL and the one registered user's credentials.
type OrthancInstance struct {
	URL, User, Password string
}

// Orthanc returns the Orthanc shared by the tests of this binary: loopback only, authentication on, DICOMweb
// and GDCM plugins loaded, storage in a temporary folder. Tests sharing it must use their own patients.
func Orthanc(t testing.TB) (url, user, password string) {
	t.Helper()
	program := findProgram(t, "apt-get install orthanc orthanc-dicomweb orthanc-gdcm", "Orthanc", "/usr/sbin/Orthanc")
	orthancOnce.Do(func() {
		var s *service
		s, orthancInst, orthancErr = startOrthanc(program)
		if orthancErr == nil {
			sharedMu.Lock()
			shared = append(shared, s)
			sharedMu.Unlock()
		}
	})
	if orthancErr != nil {
		t.Fatalf("start Orthanc: %v", orthancErr)
	}
	return orthancInst.URL, orthancInst.User, orthancInst.Password
}

// FreshOrthanc starts an Orthanc for the calling test alone (empty archive) and stops it when the test ends.
func FreshOrthanc(t testing.TB) (url, user, password string) {
	t.Helper()
	program := findProgram(t, "apt-get install orthanc orthanc-dicomweb orthanc-gdcm", "Orthanc", "/usr/sbin/Orthanc")
	s, inst, err := startOrthanc(program)
	if err != nil {
		t.Fatalf("start Orthanc: %v", err)
	}
	t.Cleanup(s.stop)
	return inst.URL, inst.User, inst.Password
}

// startOrthanc writes a configuration with a free HTTP port and starts Orthanc with it.
func startOrthanc(program string) (*service, OrthancInstance, error) {
	var inst OrthancInstance
	s, err := withRetries(func() (*service, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		inst = OrthancInstance{URL: "http://127.0.0.1:" + strconv.Itoa(port), User: "neuronova", Password: RandomHex(12)}
		s, err := launch("orthanc", program, func(dir string) ([]string, error) {
			var plugins []string
			for _, p := range []string{"libOrthancDicomWeb.so", "libOrthancGdcm.so"} {
				if _, err := os.Stat(filepath.Join(OrthancPlugins, p)); err == nil {
					plugins = append(plugins, filepath.Join(OrthancPlugins, p))
				}
			}
			cfg := map[string]any{
				"Name":                  "neuronova-test",
				"StorageDirectory":      filepath.Join(dir, "storage"),
				"IndexDirectory":        filepath.Join(dir, "index"),
				"HttpPort":              port,
				"DicomServerEnabled":    false,
				"RemoteAccessAllowed":   false,
				"AuthenticationEnabled": true,
				"RegisteredUsers":       map[string]string{inst.User: inst.Password},
				"Plugins":               plugins,
				"HttpThreadsCount":      50,
				"StableAge":             1,
				"SaveJobs":              false,
				"DicomWeb":              map[string]any{"Enable": true, "Root": "/dicom-web/"},
				"GDCM":                  GDCMConfig,
			}
			b, err := json.MarshalIndent(cfg, "", "  ")
			if err != nil {
				return nil, err
			}
			path := filepath.Join(dir, "orthanc.json")
			return []string{path}, os.WriteFile(path, b, 0o600)
		})
		if err != nil {
			return nil, err
		}
		client := &http.Client{Timeout: time.Second}
		err = s.waitReady(20*time.Second, func() error {
			req, _ := http.NewRequest(http.MethodGet, inst.URL+"/system", nil)
			req.SetBasicAuth(inst.User, inst.Password)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /system answered %s", resp.Status)
			}
			return nil
		})
		if err != nil {
			s.stop()
			return nil, err
		}
		return s, nil
	})
	return s, inst, err
}
