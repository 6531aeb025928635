package api

import "testing"

func TestValidOrthancID(t *testing.T) {
	if id := OrthancID("P1", "1.2.3"); !ValidOrthancID(id) {
		t.Fatalf("OrthancID gave %q, which ValidOrthancID refuses", id)
	}
	for _, s := range []string{"", "0123abcd-0123abcd-0123abcd-0123abcd", "0123ABCD-0123abcd-0123abcd-0123abcd-0123abcd",
		"0123abcd-0123abcd-0123abcd-0123abcd-0123abcd/..", "../23abcd-0123abcd-0123abcd-0123abcd-0123abcd",
		"0123abcd-0123abcd-0123abcd-0123abcd-0123abcd\n", "0123abcd_0123abcd-0123abcd-0123abcd-0123abcd"} {
		if ValidOrthancID(s) {
			t.Errorf("ValidOrthancID(%q) = true", s)
		}
	}
	if !ValidOrthancID("0123abcd-4567ef01-89abcdef-00000000-ffffffff") {
		t.Error("a well-formed ID refused")
	}
}
