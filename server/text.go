package server

import (
	"unicode"
	"unicode/utf8"

	"github.com/neuronova/neuronova/api"
)

// ValidateText checks a one-line text field a person typed (a name, a reason): valid UTF-8 of min to max
// characters made only of letters, marks, digits, punctuation, symbols and spaces, with the two joiners some
// scripts need. Control characters (NUL, CR, LF, ESC…), bidirectional overrides and other invisible formatting
// are refused: they forge log lines and make a name read differently than it is stored.
func ValidateText(field, s string, min, max int) error {
	return validateText(field, s, min, max, false)
}

// ValidateMultilineText is ValidateText for free text that may hold line breaks and tabs (findings, addresses).
func ValidateMultilineText(field, s string, min, max int) error {
	return validateText(field, s, min, max, true)
}

func validateText(field, s string, min, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return Errorf(api.CodeInvalid, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n < min || n > max {
		return Errorf(api.CodeInvalid, "%s must be %d to %d characters", field, min, max)
	}
	for i, r := range s {
		if !allowedRune(r, multiline) {
			return Errorf(api.CodeInvalid, "%s holds the character %U at byte %d, which is not allowed in text", field, r, i)
		}
	}
	return nil
}

func allowedRune(r rune, multiline bool) bool {
	switch {
	case r == '\u200c', r == '\u200d': // zero-width non-joiner and joiner (Persian, Indic scripts)
		return true
	case r == '\n' || r == '\t':
		return multiline
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs)
}
