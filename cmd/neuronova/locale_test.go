package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoFyneLocaleError starts this binary under Debian's default locale, LANG=C.UTF-8, and expects no
// "Error parsing user locale" from Fyne (every command logged it three times before its output).
func TestNoFyneLocaleError(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Contains(string(out), "locale") || strings.Contains(string(out), "Fyne error") {
		t.Errorf("the binary logs at start-up under LANG=C.UTF-8:\n%s", out)
	}
}
