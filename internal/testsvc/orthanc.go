package testsvc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/deploy"
)

const orthancInstall = "apt-get install orthanc orthanc-dicomweb orthanc-gdcm orthanc-postgresql"

// orthancPrograms are where Orthanc is looked for (Debian installs it in /usr/sbin).
var orthancPrograms = []string{"Orthanc", "/usr/sbin/Orthanc"}

var (
	orthancOnce   sync.Once
	orthancSetup  OrthancSetup // of the shared Orthanc
	orthancShared *service
	orthancErr    error
)

// OrthancInstance is a running Orthanc: its base URL and the one registered user's credentials.
type OrthancInstance struct {
	URL, User, Password string
}

// Orthanc returns the Orthanc shared by the tests of this binary, run with the production configuration (see
// PrepareOrthanc). Tests sharing it must use their own patients.
func Orthanc(t testing.TB) (url, user, password string) {
	t.Helper()
	findProgram(t, orthancInstall, orthancPrograms...)
	orthancOnce.Do(func() {
		orthancShared, orthancSetup, orthancErr = startOrthanc(orthancVariant{})
		if orthancErr == nil {
			sharedMu.Lock()
			shared = append(shared, orthancShared)
			sharedMu.Unlock()
		}
	})
	if orthancErr != nil {
		t.Fatalf("start Orthanc: %v", orthancErr)
	}
	return orthancSetup.URL, orthancSetup.User, orthancSetup.Password
}

// FreshOrthanc starts an Orthanc for the calling test alone (empty archive) and stops it when the test ends.
func FreshOrthanc(t testing.TB) (url, user, password string) {
	t.Helper()
	findProgram(t, orthancInstall, orthancPrograms...)
	s, inst, err := startOrthanc(orthancVariant{})
	if err != nil {
		t.Fatalf("start Orthanc: %v", err)
	}
	t.Cleanup(s.stop)
	return inst.URL, inst.User, inst.Password
}

// OrthancSetup is how to start one Orthanc: the command line, the environment and what it will answer as.
type OrthancSetup struct {
	Argv []string // the Orthanc program and its configuration file
	Env  []string // this process's environment and LD_PRELOAD of loopback-bind
	OrthancInstance
	DicomPort int // where the DICOM server would listen (it is off unless the variant turns it on)
}

// orthancVariant says how a test's Orthanc departs from deploy/orthanc/orthanc.json.
type orthancVariant struct {
	// dicomHost, when set, runs deploy/orthanc/orthanc-dicom.json instead: the DICOM server on, bound to
	// dicomHost (LOOPBACK_BIND_EXCEPT), its example modality registered from modalityHost.
	dicomHost, modalityHost string
	// postgres, when set (a postgres:// URL), keeps the index and the files in that database, as the production
	// file does; otherwise the test's Orthanc keeps them in its folder (its SQLite), which is quicker to start.
	postgres string
}

// PrepareOrthanc writes in dir the production configuration deploy/orthanc/orthanc.json as a test runs it
// (HTTP on port, a free DICOM port, storage and index in dir, a random password) and returns how to start
// Orthanc with it, kept on loopback by loopback-bind (built on first use).
func PrepareOrthanc(dir string, port int) (OrthancSetup, error) {
	return prepareOrthanc(dir, port, orthancVariant{})
}

func prepareOrthanc(dir string, port int, v orthancVariant) (o OrthancSetup, err error) {
	var program string
	for _, p := range orthancPrograms {
		if program, err = exec.LookPath(p); err == nil {
			break
		}
	}
	if err != nil {
		return OrthancSetup{}, err
	}
	lib, err := LoopbackBind()
	if err != nil {
		return OrthancSetup{}, err
	}
	dicomPort, err := FreePort()
	if err != nil {
		return OrthancSetup{}, err
	}
	src := deploy.OrthancJSON
	if v.dicomHost != "" {
		src = deploy.OrthancDicomJSON
	}
	var cfg map[string]any
	if err := json.Unmarshal(src, &cfg); err != nil {
		return OrthancSetup{}, fmt.Errorf("the production Orthanc configuration: %w", err)
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	o = OrthancSetup{OrthancInstance: OrthancInstance{URL: "http://" + host, User: "neuronova", Password: RandomHex(12)},
		DicomPort: dicomPort}
	cfg["Name"] = "neuronova-test"
	cfg["StorageDirectory"] = filepath.Join(dir, "storage")
	cfg["IndexDirectory"] = filepath.Join(dir, "index")
	cfg["HttpPort"] = port
	cfg["DicomPort"] = dicomPort
	cfg["RegisteredUsers"] = map[string]string{o.User: o.Password}
	dicomWeb, ok := cfg["DicomWeb"].(map[string]any)
	if !ok {
		return OrthancSetup{}, fmt.Errorf("the production Orthanc configuration has no DicomWeb section")
	}
	dicomWeb["Host"] = host
	if err := postgresSection(cfg, v.postgres); err != nil {
		return OrthancSetup{}, err
	}
	env := append(os.Environ(), "LD_PRELOAD="+lib)
	if v.dicomHost != "" {
		modalities, _ := cfg["DicomModalities"].(map[string]any)
		for _, m := range modalities {
			m.(map[string]any)["Host"] = v.modalityHost
		}
		env = append(env, fmt.Sprintf("LOOPBACK_BIND_EXCEPT=%d=%s", dicomPort, v.dicomHost))
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return OrthancSetup{}, err
	}
	path := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return OrthancSetup{}, err
	}
	o.Argv, o.Env = []string{program, path}, env
	return o, nil
}

// startOrthanc starts an Orthanc on a free HTTP port and waits until it answers.
func startOrthanc(v orthancVariant) (*service, OrthancSetup, error) {
	var setup OrthancSetup
	s, err := withRetries(func() (*service, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		dir, err := newDir("orthanc")
		if err != nil {
			return nil, err
		}
		if setup, err = prepareOrthanc(dir, port, v); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s, err := launchIn("orthanc", dir, setup.Argv, setup.Env)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		client := &http.Client{Timeout: time.Second}
		err = s.waitReady(20*time.Second, func() error {
			req, _ := http.NewRequest(http.MethodGet, setup.URL+"/system", nil)
			req.SetBasicAuth(setup.User, setup.Password)
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
	return s, setup, err
}

var (
	bindOnce sync.Once
	bindLib  string
	bindErr  error
)

// LoopbackBind builds deploy/loopback-bind once per test binary and returns the library's path.
func LoopbackBind() (string, error) {
	bindOnce.Do(func() {
		cc, err := exec.LookPath("cc")
		if err != nil {
			bindErr = fmt.Errorf("no C compiler to build loopback-bind (apt-get install gcc): %w", err)
			return
		}
		dir, err := newDir("loopback-bind")
		if err != nil {
			bindErr = err
			return
		}
		sharedMu.Lock()
		sharedDirs = append(sharedDirs, dir)
		sharedMu.Unlock()
		src := filepath.Join(dir, "loopback-bind.c")
		if bindErr = os.WriteFile(src, deploy.LoopbackBindC, 0o600); bindErr != nil {
			return
		}
		lib := filepath.Join(dir, "loopback-bind.so")
		if out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", lib, src).CombinedOutput(); err != nil {
			bindErr = fmt.Errorf("build loopback-bind: %w\n%s", err, out)
			return
		}
		bindLib = lib
	})
	return bindLib, bindErr
}

// postgresSection points the configuration's PostgreSQL section at dsn (a postgres:// URL), or turns it off
// when dsn is empty.
func postgresSection(cfg map[string]any, dsn string) error {
	pg, ok := cfg["PostgreSQL"].(map[string]any)
	if !ok {
		return fmt.Errorf("the production Orthanc configuration has no PostgreSQL section")
	}
	if dsn == "" {
		pg["EnableIndex"], pg["EnableStorage"] = false, false
		return nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return fmt.Errorf("postgres URL %s has no port", u.Redacted())
	}
	password, _ := u.User.Password()
	pg["Host"], pg["Port"], pg["Database"] = u.Hostname(), port, strings.TrimPrefix(u.Path, "/")
	pg["Username"], pg["Password"] = u.User.Username(), password
	return nil
}

// OrthancOnPostgres starts an Orthanc for the calling test alone with its index and files in the PostgreSQL
// database at dsn, as deploy/orthanc/orthanc.json runs in production, and stops it when the test ends.
func OrthancOnPostgres(t testing.TB, dsn string) OrthancInstance {
	t.Helper()
	findProgram(t, orthancInstall, orthancPrograms...)
	s, inst, err := startOrthanc(orthancVariant{postgres: dsn})
	if err != nil {
		t.Fatalf("start Orthanc on PostgreSQL: %v", err)
	}
	t.Cleanup(s.stop)
	return inst.OrthancInstance
}
