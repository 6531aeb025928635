package viewer

import (
	"fmt"
	"strings"
	"time"
)

// PersonName is a DICOM person name (PN) as a person reads it: "DOE^JANE^M^DR^JR" becomes
// "DOE, DR JANE M JR" (family name, a comma, then prefix, given and middle names and suffix; the case as
// stored). Of the alphabetic, ideographic and phonetic groups ("="), the first that is not empty is used; a
// name without components is returned trimmed.
func PersonName(pn string) string {
	group := ""
	for _, g := range strings.Split(pn, "=") {
		if strings.Trim(g, "^ ") != "" {
			group = g
			break
		}
	}
	c := strings.Split(group, "^")
	for i := range c {
		c[i] = strings.TrimSpace(c[i])
	}
	for len(c) < 5 {
		c = append(c, "")
	}
	var rest []string
	for _, s := range []string{c[3], c[1], c[2], c[4]} {
		if s != "" {
			rest = append(rest, s)
		}
	}
	switch {
	case c[0] == "":
		return strings.Join(rest, " ")
	case len(rest) == 0:
		return c[0]
	}
	return c[0] + ", " + strings.Join(rest, " ")
}

// FormatDate writes a DICOM date (YYYYMMDD) as 2024-01-31; other text is returned as it is.
func FormatDate(da string) string {
	t, err := time.Parse("20060102", strings.TrimSpace(da))
	if err != nil {
		return strings.TrimSpace(da)
	}
	return t.Format("2006-01-02")
}

// FormatTime writes a DICOM time (HHMMSS.FFFFFF, or HHMM, or HH) as 09:05; other text is returned as it is.
func FormatTime(tm string) string {
	tm = strings.TrimSpace(tm)
	digits := tm
	if i := strings.IndexByte(digits, '.'); i >= 0 {
		digits = digits[:i]
	}
	if len(digits) < 2 || len(digits)%2 == 1 || strings.Trim(digits, "0123456789") != "" {
		return tm
	}
	m := "00"
	if len(digits) >= 4 {
		m = digits[2:4]
	}
	return digits[:2] + ":" + m
}

// Age is the age at date on (YYYYMMDD) of someone born on birth (YYYYMMDD), as a reader writes it: "54 y",
// "8 mo" under two years, "12 d" under a month; "" when either date is missing or invalid, or birth is after on.
func Age(birth, on string) string {
	b, err1 := time.Parse("20060102", strings.TrimSpace(birth))
	d, err2 := time.Parse("20060102", strings.TrimSpace(on))
	if err1 != nil || err2 != nil || d.Before(b) {
		return ""
	}
	months := (d.Year()-b.Year())*12 + int(d.Month()) - int(b.Month())
	if d.Day() < b.Day() {
		months--
	}
	if months >= 24 {
		return fmt.Sprintf("%d y", months/12)
	}
	if months >= 1 {
		return fmt.Sprintf("%d mo", months)
	}
	return fmt.Sprintf("%d d", int(d.Sub(b).Hours()/24))
}

// SexAge is "F 54 y": the patient's sex (M, F or O as stored) and age at the study date, either part left
// out when unknown.
func (s *Study) SexAge() string {
	return strings.TrimSpace(strings.TrimSpace(s.PatientSex) + " " + Age(s.PatientBirthDate, s.StudyDate))
}
