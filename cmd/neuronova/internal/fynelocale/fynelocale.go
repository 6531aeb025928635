// Package fynelocale keeps Fyne from logging "Error parsing user locale C" three times when the process
// starts under the C locale with a codeset (LANG=C.UTF-8, Debian's default), which every subcommand of
// neuronova did, headless ones included: the log comes from the init of fyne.io/fyne/v2/lang, linked in by
// the window. Its locale library (go-locale) takes the first of LC_ALL, LC_MESSAGES and LANG, knows "C" and
// "POSIX" but not "C.UTF-8", and hands Fyne "C", which is no language tag.
//
// main imports this package for its init, which runs before Fyne's: Go initialises, of the packages whose
// imports are initialised, the first by import path, and this one's (github.com/neuronova/…) sorts before
// golang.org/x/text/language, which Fyne's lang package imports. When the locale is C or POSIX with a codeset
// and LANGUAGE is unset, it sets LANGUAGE=en, which go-locale then reads: the C locale's messages are
// English, so nothing else changes.
package fynelocale

import (
	"os"
	"strings"
)

func init() {
	if IsCWithCodeset(os.Getenv) && os.Getenv("LANGUAGE") == "" {
		os.Setenv("LANGUAGE", "en")
	}
}

// IsCWithCodeset reports whether the locale that messages follow (the first of LC_ALL, LC_MESSAGES and
// LANG that is set) is C or POSIX with a codeset, like "C.UTF-8".
func IsCWithCodeset(getenv func(string) string) bool {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if loc := getenv(v); loc != "" {
			base, _, hasCodeset := strings.Cut(loc, ".")
			return hasCodeset && (base == "C" || base == "POSIX")
		}
	}
	return false
}
