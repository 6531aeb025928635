package dicomkit

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidUID(t *testing.T) {
	for s, want := range map[string]bool{
		"1.2.840.10008.1.2.1":          true,
		"0.0":                          true,
		"2.25.0":                       true,
		"1.2.3.0.4":                    true,
		"1." + strings.Repeat("2", 62): true, // 64 characters
		"1." + strings.Repeat("2", 63): false,
		"1":                            false, // one component
		"":                             false,
		"1..2":                         false,
		"1.2.":                         false,
		".1.2":                         false,
		"1.02":                         false, // leading zero
		"1.2a":                         false,
		"1.2 ":                         false,
		"1.2\x00":                      false,
	} {
		if ValidUID(s) != want {
			t.Errorf("ValidUID(%q) = %v", s, !want)
		}
	}
}

func TestNewUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u := NewUID()
		if !ValidUID(u) || !strings.HasPrefix(u, "2.25.") || seen[u] {
			t.Fatalf("NewUID %q: invalid or repeated", u)
		}
		seen[u] = true
	}
}

func TestDeterministicUID(t *testing.T) {
	a, b := DeterministicUID("x", "1"), DeterministicUID("x", "1")
	if a != b || !ValidUID(a) || !strings.HasPrefix(a, "2.25.") {
		t.Fatalf("%q %q", a, b)
	}
	// Parts are length-prefixed: moving a character between parts gives another UID.
	for _, other := range [][]string{{"x", "2"}, {"x1"}, {"x1", ""}, {"", "x1"}} {
		if DeterministicUID(other...) == a {
			t.Errorf("%q gives the UID of [x 1]", other)
		}
	}
	// A 2.25 UID is a number of at most 39 digits without a leading zero, 44 characters at most.
	uidPattern := regexp.MustCompile(`^2\.25\.[1-9][0-9]{0,38}$`)
	for i := range 200 {
		if u := DeterministicUID(strings.Repeat("x", i)); !uidPattern.MatchString(u) {
			t.Fatalf("DeterministicUID(%d × x) = %q: not a 2.25 UID of at most 64 characters", i, u)
		}
	}
}
