package cache

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/neuronova/neuronova/viewer"
)

// QuerySyntax documents ParseQuery for help texts.
const QuerySyntax = `words            patient name words, patient ID or accession number prefixes (all must match)
date:D | date:D1..D2 | from:D | to:D   study date (YYYYMMDD or YYYY-MM-DD; either end of a range may be empty)
mod:MR           modality        desc:TEXT  study description contains TEXT ("quoted text" for spaces)
type:T1CE,FLAIR  series types present   sync:local|pulled|pending|synced|conflict
sort:date|name|id|opened|imported (prefix - to reverse)   limit:N   offset:N`

// ParseQuery reads the worklist query language of `neuronova ls` (see QuerySyntax) into a Query.
func ParseQuery(s string) (Query, error) {
	var q Query
	toks, err := tokenize(s)
	if err != nil {
		return q, err
	}
	var text []string
	for _, t := range toks {
		key, val, ok := strings.Cut(t, ":")
		if !ok || key == "" {
			text = append(text, t)
			continue
		}
		switch strings.ToLower(key) {
		case "name", "id", "text", "patient":
			text = append(text, val)
		case "date":
			lo, hi, isRange := strings.Cut(val, "..")
			if !isRange {
				hi = lo
			}
			if q.From, err = parseDate(lo); err != nil {
				return q, err
			}
			if q.To, err = parseDate(hi); err != nil {
				return q, err
			}
		case "from":
			if q.From, err = parseDate(val); err != nil {
				return q, err
			}
		case "to":
			if q.To, err = parseDate(val); err != nil {
				return q, err
			}
		case "mod", "modality":
			q.Modality = strings.ToUpper(val)
		case "desc", "description":
			q.Description = val
		case "type", "types":
			for _, v := range strings.Split(val, ",") {
				if v == "" {
					continue
				}
				st, ok := viewer.ParseSeriesType(v)
				if !ok {
					return q, fmt.Errorf("%w: series type %q (want T1, T1CE, T2, FLAIR, SEG, DWI, SWI or OTHER)", ErrBadQuery, v)
				}
				q.Types = append(q.Types, st)
			}
		case "sync":
			st, ok := ParseSyncState(val)
			if !ok {
				return q, fmt.Errorf("%w: sync state %q (want local, pulled, pending, synced or conflict)", ErrBadQuery, val)
			}
			q.Sync = st
		case "sort":
			if strings.HasPrefix(val, "-") {
				q.Reverse, val = true, val[1:]
			}
			switch k := SortKey(strings.ToLower(val)); k {
			case SortDate, SortName, SortPatientID, SortOpened, SortImported:
				q.Sort = k
			default:
				return q, fmt.Errorf("%w: sort key %q (want date, name, id, opened or imported)", ErrBadQuery, val)
			}
		case "limit", "offset":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 1_000_000_000 {
				return q, fmt.Errorf("%w: %s %q is not a count", ErrBadQuery, key, val)
			}
			if strings.EqualFold(key, "limit") {
				q.Limit = n
			} else {
				q.Offset = n
			}
		default:
			return q, fmt.Errorf("%w: unknown field %q (fields: name date from to mod desc type sync sort limit offset)", ErrBadQuery, key)
		}
	}
	q.Text = strings.Join(text, " ")
	return q, q.checkSize()
}

// tokenize splits at spaces, keeping "quoted text" (also after key:) as one token.
func tokenize(s string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case unicode.IsSpace(r) && !inQuote:
			if have {
				toks = append(toks, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("%w: unbalanced quote", ErrBadQuery)
	}
	if have {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// parseDate accepts YYYYMMDD or YYYY-MM-DD ("" stays "").
func parseDate(s string) (string, error) {
	d := strings.ReplaceAll(s, "-", "")
	if d == "" {
		return "", nil
	}
	if len(d) != 8 || strings.Trim(d, "0123456789") != "" {
		return "", fmt.Errorf("%w: date %q (want YYYYMMDD or YYYY-MM-DD)", ErrBadQuery, s)
	}
	m, _ := strconv.Atoi(d[4:6])
	day, _ := strconv.Atoi(d[6:])
	if m < 1 || m > 12 || day < 1 || day > 31 {
		return "", fmt.Errorf("%w: date %q (month or day out of range)", ErrBadQuery, s)
	}
	return d, nil
}

// ParseSize reads a size such as "20GB", "500 MB", "1.5TiB" or "123456" (bytes). Units: B, kB/KB, MB, GB,
// TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("size %q: not a number with a unit (e.g. 20GB)", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
	}
	b := v * mult
	if math.IsNaN(b) || b < 1 || b > 1<<62 {
		return 0, fmt.Errorf("size %q: out of range", s)
	}
	return int64(b), nil
}
