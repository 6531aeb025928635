package dicomkit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"strings"
)

// ValidUID reports whether s is a DICOM UID (PS3.5 9.1): at most 64 characters, at least two components
// separated by dots, each a decimal number without leading zeros.
func ValidUID(s string) bool {
	if len(s) > 64 || !strings.Contains(s, ".") {
		return false
	}
	for _, c := range strings.Split(s, ".") {
		if c == "" || strings.Trim(c, "0123456789") != "" || (len(c) > 1 && c[0] == '0') {
			return false
		}
	}
	return true
}

// NewUID returns a fresh UID under the 2.25 root: the decimal value of a random (version 4) UUID.
func NewUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("dicomkit: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return "2.25." + new(big.Int).SetBytes(b[:]).String()
}

// DeterministicUID returns a UID under the 2.25 root made from a hash of parts: the same parts always give
// the same UID, different parts (with overwhelming probability) different UIDs. The 128-bit value is an
// RFC 9562 version-8 UUID built from SHA-256, written in decimal as PS3.5 B.2 prescribes.
func DeterministicUID(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	sum := h.Sum(nil)[:16]
	sum[6] = sum[6]&0x0f | 0x80 // version 8
	sum[8] = sum[8]&0x3f | 0x80 // RFC 9562 variant
	return "2.25." + new(big.Int).SetBytes(sum).String()
}
