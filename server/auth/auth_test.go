package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// TestVerifyRemembersOnlyWhatVerified: a token verified once verifies again from memory with the same
// principal, but its lifetime is checked on every use, and a token differing in any byte is checked in full.
func TestVerifyRemembersOnlyWhatVerified(t *testing.T) {
	secret := []byte(strings.Repeat("k", auth.MinSecretBytes))
	iss, err := auth.NewIssuer(secret, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	iss.SetClock(func() time.Time { return now })
	u := &server.User{User: api.User{ID: 42, LoginID: "doctor1", Name: "Dr One", Role: api.RoleDoctor}}
	tok, want, err := iss.IssueAccess(u, "session-1")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		p, err := iss.Verify(tok)
		if err != nil || p.UserID != 42 || p.Role != api.RoleDoctor || p.TokenID != want.TokenID || !p.ExpiresAt.Equal(want.ExpiresAt.Truncate(time.Second)) {
			t.Fatalf("verify: %+v %v", p, err)
		}
	}
	// Any change of the token, even of the signature's last character, is a different token — also where that
	// character's low bits are only base64 padding, which lenient decoding ignores (strict decoding refuses them).
	var bad []string
	for _, c := range "ABCDQ" {
		if byte(c) != tok[len(tok)-1] {
			bad = append(bad, tok[:len(tok)-1]+string(c))
		}
	}
	for _, bad := range append(bad, tok+"x", strings.Replace(tok, ".", "..", 1)) {
		if _, err := iss.Verify(bad); !server.IsCode(err, api.CodeUnauthorized) {
			t.Fatalf("an altered token verified: %v", err)
		}
	}
	// Another issuer's secret does not accept it, remembered elsewhere or not.
	other2, _ := auth.NewIssuer([]byte(strings.Repeat("j", auth.MinSecretBytes)), time.Minute)
	if _, err := other2.Verify(tok); !server.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("another secret accepted the token: %v", err)
	}
	// Past its expiry the remembered token is refused as expired.
	later := now.Add(2 * time.Minute)
	iss.SetClock(func() time.Time { return later })
	if _, err := iss.Verify(tok); !server.IsCode(err, api.CodeUnauthorized) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired token verified: %v", err)
	}
	// Before its issue time too.
	earlier := now.Add(-time.Hour)
	iss.SetClock(func() time.Time { return earlier })
	if _, err := iss.Verify(tok); !server.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("a token verified before it was issued: %v", err)
	}
	iss.SetClock(func() time.Time { return now })
	if _, err := iss.Verify(tok); err != nil {
		t.Fatalf("back within its life: %v", err)
	}
}

// BenchmarkVerify: a new token's first check (with its signing) and the later ones of its life.
func BenchmarkVerify(b *testing.B) {
	iss, _ := auth.NewIssuer([]byte(strings.Repeat("k", auth.MinSecretBytes)), time.Minute)
	u := &server.User{User: api.User{ID: 42, LoginID: "doctor1", Name: "Dr One", Role: api.RoleDoctor}}
	b.Run("issue-and-first", func(b *testing.B) {
		for b.Loop() {
			tok, _, _ := iss.IssueAccess(u, "session-1")
			if _, err := iss.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	tok, _, _ := iss.IssueAccess(u, "session-1")
	b.Run("again", func(b *testing.B) {
		for b.Loop() {
			if _, err := iss.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestTokenWithoutSessionIsRefused: an access token must name its session, which logout and a reused refresh
// token end; one without it (as tokens were before sessions were checked) is refused.
func TestTokenWithoutSessionIsRefused(t *testing.T) {
	secret := []byte(strings.Repeat("k", auth.MinSecretBytes))
	iss, err := auth.NewIssuer(secret, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u := &server.User{User: api.User{ID: 7, LoginID: "nurse1", Role: api.RoleNurse}}
	if _, _, err := iss.IssueAccess(u, ""); err == nil {
		t.Fatal("issued a token without a session")
	}
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "neuronova-server", "aud": "neuronova-api", "sub": "7",
		"jti": "j", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "iat_ms": now.UnixMilli(), "role": "NURSE"}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok); !server.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("a token without a session verified: %v", err)
	}
	tok, p, err := iss.IssueAccess(u, "sess")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := iss.Verify(tok); err != nil || got.SessionID != "sess" || p.SessionID != "sess" {
		t.Fatalf("verify: %+v %v", got, err)
	}
}
