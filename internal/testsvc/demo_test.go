package testsvc

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestServerDemoRunsTheHarnessConfiguration: scripts/server-demo.sh (CONFIG_ONLY=1 writes its configurations
// and stops) runs Orthanc and Redis with the configurations the harness runs (PrepareOrthanc, PrepareRedis):
// deploy/'s files with the same settings replaced. What differs by design: ports, folders and passwords; the
// demo's Orthanc keeps deploy/'s name and DICOM port (its DICOM server is off either way), and its Redis keeps
// a password.
func TestServerDemoRunsTheHarnessConfiguration(t *testing.T) {
	bash := findProgram(t, "apt-get install bash", "bash")
	findProgram(t, orthancInstall, orthancPrograms...)
	demo, harness := t.TempDir(), t.TempDir()
	cmd := exec.Command(bash, filepath.Join("..", "..", "scripts", "server-demo.sh"))
	cmd.Env = append(os.Environ(), "CONFIG_ONLY=1", "DIR="+demo, "ORTHANC_PORT=18042", "REDIS_PORT=16379")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("server-demo.sh: %v\n%s", err, out)
	}
	setup, err := PrepareOrthanc(harness, 28042)
	if err != nil {
		t.Fatal(err)
	}
	orthanc := func(path string) map[string]any {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, k := range []string{"Name", "HttpPort", "DicomPort", "StorageDirectory", "IndexDirectory"} {
			cfg[k] = "(differs by design)"
		}
		users, _ := cfg["RegisteredUsers"].(map[string]any)
		for u := range users {
			users[u] = "(password)"
		}
		if web, ok := cfg["DicomWeb"].(map[string]any); ok {
			web["Host"] = "(port)"
		}
		return cfg
	}
	got, want := orthanc(filepath.Join(demo, "orthanc.json")), orthanc(setup.Argv[1])
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("Orthanc %s: server-demo.sh %v, harness %v", k, got[k], want[k])
			}
		}
		t.Fatal("server-demo.sh and the harness run different Orthanc configurations")
	}

	redis := func(path string) []string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			switch {
			case len(f) == 0 || strings.HasPrefix(f[0], "#") || f[0] == "requirepass":
				continue
			case f[0] == "port" || f[0] == "dir":
				l = f[0] + " (differs by design)"
			}
			lines = append(lines, l)
		}
		return lines
	}
	argv, err := PrepareRedis(harness, 26379)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := redis(filepath.Join(demo, "redis.conf")), redis(argv[0]); !reflect.DeepEqual(got, want) {
		t.Fatalf("server-demo.sh runs Redis with\n%s\nthe harness with\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
