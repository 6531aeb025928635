// Package auth issues and verifies the server's tokens and hashes passwords: short-lived HS256 JWT access
// tokens signed with the server's secret, opaque single-use refresh tokens of which only a SHA-256 hash is
// stored, and bcrypt password hashes.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

const (
	issuer   = "neuronova-server"
	audience = "neuronova-api"
	// MinSecretBytes is the shortest signing secret accepted.
	MinSecretBytes = 32
)

// Issuer signs and verifies access tokens.
type Issuer struct {
	secret    []byte
	accessTTL time.Duration
	now       func() time.Time

	// verified remembers the tokens whose signature and claims were checked, so that each request of a
	// token's life does not parse and check it again: the same bytes under the same secret verify the same
	// way, and the time checks are redone on every use. It is emptied when it reaches maxVerified tokens.
	mu       sync.RWMutex
	verified map[string]verifiedToken
}

// verifiedToken is a token that verified, with the times between which it is valid.
type verifiedToken struct {
	p                  server.Principal
	notBefore, expires time.Time // valid at t when !t.Before(notBefore) && t.Before(expires)
}

const maxVerified = 8192

// NewIssuer returns an issuer signing with secret; tokens live accessTTL.
func NewIssuer(secret []byte, accessTTL time.Duration) (*Issuer, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("token signing secret is %d bytes; it needs at least %d", len(secret), MinSecretBytes)
	}
	if accessTTL <= 0 {
		return nil, fmt.Errorf("access token lifetime %v must be positive", accessTTL)
	}
	return &Issuer{secret: secret, accessTTL: accessTTL, now: time.Now, verified: map[string]verifiedToken{}}, nil
}

// AccessTTL is the lifetime of the access tokens the issuer signs.
func (i *Issuer) AccessTTL() time.Duration { return i.accessTTL }

// SetClock replaces the issuer's clock (tests of expiry).
func (i *Issuer) SetClock(now func() time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.now = now
	clear(i.verified)
}

type claims struct {
	jwt.RegisteredClaims
	IssuedAtMillis     int64    `json:"iat_ms"` // revocation compares at millisecond precision
	SessionID          string   `json:"sid"`    // the refresh-token family: ending the session revokes the token
	LoginID            string   `json:"lid"`
	Name               string   `json:"name"`
	Role               api.Role `json:"role"`
	MustChangePassword bool     `json:"mcp,omitempty"`
}

// IssueAccess signs an access token for u in session (its refresh-token family) and returns it with its
// expiry and jti.
func (i *Issuer) IssueAccess(u *server.User, session string) (token string, p server.Principal, err error) {
	if session == "" {
		return "", p, errors.New("an access token needs the session it belongs to")
	}
	now := i.now().Truncate(time.Millisecond)
	p = server.Principal{UserID: u.ID, LoginID: u.LoginID, Name: u.Name, Role: u.Role, MustChangePassword: u.MustChangePassword,
		TokenID: RandomHex(16), SessionID: session, IssuedAt: now, ExpiresAt: now.Add(i.accessTTL)}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Audience: jwt.ClaimStrings{audience}, Subject: strconv.FormatInt(u.ID, 10), ID: p.TokenID,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(p.ExpiresAt),
		},
		IssuedAtMillis: now.UnixMilli(), SessionID: session,
		LoginID: u.LoginID, Name: u.Name, Role: u.Role, MustChangePassword: u.MustChangePassword,
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.secret)
	return token, p, err
}

// Verify checks a token's signature, algorithm, issuer, audience and lifetime and returns its principal.
// Every failure is a *server.Error with CodeUnauthorized saying what was wrong.
func (i *Issuer) Verify(token string) (server.Principal, error) {
	i.mu.RLock()
	v, ok := i.verified[token]
	now := i.now
	i.mu.RUnlock()
	if ok {
		if t := now(); !t.Before(v.notBefore) && t.Before(v.expires) {
			return v.p, nil
		}
	}
	p, c, err := i.verify(token, now)
	if err != nil {
		return p, err
	}
	v = verifiedToken{p: p, expires: c.ExpiresAt.Time}
	for _, d := range []*jwt.NumericDate{c.IssuedAt, c.NotBefore} {
		if d != nil && d.Time.After(v.notBefore) {
			v.notBefore = d.Time
		}
	}
	i.mu.Lock()
	if len(i.verified) >= maxVerified {
		clear(i.verified)
	}
	i.verified[token] = v
	i.mu.Unlock()
	return p, nil
}

// verify checks a token fully.
func (i *Issuer) verify(token string, now func() time.Time) (server.Principal, claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return i.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(now), jwt.WithStrictDecoding())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return server.Principal{}, c, server.Errorf(api.CodeUnauthorized, "access token expired")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return server.Principal{}, c, server.Errorf(api.CodeUnauthorized, "access token signature is invalid")
	case err != nil:
		return server.Principal{}, c, server.Errorf(api.CodeUnauthorized, "access token is invalid: %v", err)
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 || c.ID == "" || c.SessionID == "" || c.IssuedAtMillis <= 0 {
		return server.Principal{}, c, server.Errorf(api.CodeUnauthorized, "access token lacks a subject, jti, session or issue time")
	}
	if _, err := api.ParseRole(string(c.Role)); err != nil {
		return server.Principal{}, c, server.Errorf(api.CodeUnauthorized, "access token names an unknown role")
	}
	return server.Principal{UserID: id, LoginID: c.LoginID, Name: c.Name, Role: c.Role, MustChangePassword: c.MustChangePassword,
		TokenID: c.ID, SessionID: c.SessionID, IssuedAt: time.UnixMilli(c.IssuedAtMillis), ExpiresAt: c.ExpiresAt.Time}, c, nil
}

// NewRefreshToken returns a new opaque refresh token and the hash to store.
func NewRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never on Linux; nothing is safe without it
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token)
}

// HashRefreshToken returns the stored form of a refresh token.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// RandomHex returns n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// Passwords hashes and checks passwords with bcrypt at a fixed cost.
type Passwords struct {
	cost  int
	dummy []byte // a hash to compare against for unknown login IDs, so that they take as long as known ones
}

// NewPasswords returns a hasher of the given bcrypt cost (bcrypt.DefaultCost when 0).
func NewPasswords(cost int) (*Passwords, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(RandomHex(16)), cost)
	if err != nil {
		return nil, err
	}
	return &Passwords{cost: cost, dummy: dummy}, nil
}

// Hash returns the bcrypt hash of password.
func (p *Passwords) Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Check reports whether password matches hash. An empty hash (unknown user) is compared against a dummy hash
// so that it costs the same time, then reported false.
func (p *Passwords) Check(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(p.dummy, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
