// Package tabular reads the one-patient "name, value" CSV files of the MG and MM pipelines (gene expression,
// RPPA) and aligns their rows by name to a model card's feature list. Bad input gets an error naming the line and
// column at fault; sizes are capped.
package tabular

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on one file.
const (
	DefaultMaxBytes = 64 << 20 // a TCGA RSEM file of 20,531 genes is about 0.6 MB
	DefaultMaxRows  = 200_000
	MaxFieldBytes   = 256
)

// Sentinel errors callers branch on.
var (
	ErrBadCSV   = errors.New("bad CSV")
	ErrTooLarge = errors.New("CSV too large")
)

// Format says which columns hold names and values.
type Format struct {
	Kind        string   // "gene expression", "RPPA": for messages
	NameHeaders []string // accepted header names of the name column, preferred first (case-insensitive)
	ValueHeader []string // accepted header names of the value column
	// NotValues are headers of identifier columns that must never be read as values (Entrez_Gene_Id: the seed
	// once read it as expression and gave every patient the same prediction).
	NotValues []string
}

// Row is one data row.
type Row struct {
	Line    int // 1-based line in the file
	Name    string
	Value   float64
	NoValue bool // NA, NaN or empty: the feature is present but unmeasured
}

// Table is a parsed file.
type Table struct {
	Rows        []Row
	NameColumn  string // header of the name column, or "column 1" without a header
	ValueColumn string
	HasHeader   bool
	Delimiter   rune
}

type config struct {
	maxBytes int64
	maxRows  int
}

// Option configures Parse.
type Option func(*config)

// WithMaxBytes caps the file size.
func WithMaxBytes(n int64) Option { return func(c *config) { c.maxBytes = n } }

// WithMaxRows caps the number of data rows.
func WithMaxRows(n int) Option { return func(c *config) { c.maxRows = n } }

// Parse reads a file in one of these shapes:
//
//   - a header naming a name column and a value column among any others (Hugo_Symbol,Entrez_Gene_Id,Expression);
//   - two columns with a header of any names (gene,value);
//   - two columns without a header (the first row's second field is a number).
//
// Commas or tabs separate fields (tabs when the first line has a tab and no comma).
func Parse(r io.Reader, f Format, opts ...Option) (*Table, error) {
	cfg := config{maxBytes: DefaultMaxBytes, maxRows: DefaultMaxRows}
	for _, opt := range opts {
		opt(&cfg)
	}
	data, err := io.ReadAll(io.LimitReader(r, cfg.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s CSV: %w", f.Kind, err)
	}
	if int64(len(data)) > cfg.maxBytes {
		return nil, fmt.Errorf("%w: the %s file is larger than %d bytes", ErrTooLarge, f.Kind, cfg.maxBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: the %s file is not UTF-8 text", ErrBadCSV, f.Kind)
	}
	t := &Table{Delimiter: ','}
	firstLine, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.IndexByte(firstLine, '\t') >= 0 && bytes.IndexByte(firstLine, ',') < 0 {
		t.Delimiter = '\t'
	}
	cr := csv.NewReader(bufio.NewReader(bytes.NewReader(data)))
	cr.Comma = t.Delimiter
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	nameCol, valueCol, width := -1, -1, 0
	for {
		record, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%w: %s file, line %d: %v", ErrBadCSV, f.Kind, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%w: %s file: %v", ErrBadCSV, f.Kind, err)
		}
		line, _ := cr.FieldPos(0)
		for i, field := range record {
			if len(field) > MaxFieldBytes {
				return nil, fmt.Errorf("%w: %s file, line %d, column %d: field of %d bytes (at most %d)", ErrBadCSV, f.Kind, line, i+1, len(field), MaxFieldBytes)
			}
		}
		if nameCol < 0 {
			if nameCol, valueCol, err = t.header(record, f); err != nil {
				return nil, err
			}
			width = len(record)
			if t.HasHeader {
				continue
			}
		}
		if len(record) != width {
			return nil, fmt.Errorf("%w: %s file, line %d: %d fields, but the first row has %d", ErrBadCSV, f.Kind, line, len(record), width)
		}
		if len(t.Rows) >= cfg.maxRows {
			return nil, fmt.Errorf("%w: the %s file has more than %d data rows", ErrTooLarge, f.Kind, cfg.maxRows)
		}
		row, err := t.row(record, nameCol, valueCol, line, f)
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	if nameCol < 0 {
		return nil, fmt.Errorf("%w: the %s file is empty", ErrBadCSV, f.Kind)
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%w: the %s file has a header but no data rows", ErrBadCSV, f.Kind)
	}
	return t, nil
}

// header decides whether the first record is a header and which columns hold names and values.
func (t *Table) header(record []string, f Format) (nameCol, valueCol int, err error) {
	find := func(names []string) int {
		for _, want := range names {
			for i, h := range record {
				if strings.EqualFold(strings.TrimSpace(h), want) {
					return i
				}
			}
		}
		return -1
	}
	nameCol, valueCol = find(f.NameHeaders), find(f.ValueHeader)
	switch {
	case nameCol >= 0 && valueCol >= 0 && nameCol != valueCol:
		t.HasHeader = true
		t.NameColumn, t.ValueColumn = strings.TrimSpace(record[nameCol]), strings.TrimSpace(record[valueCol])
		return nameCol, valueCol, nil
	case len(record) == 2:
		t.HasHeader = !isNumber(record[1])
		if t.HasHeader && valueCol == 0 {
			return -1, -1, fmt.Errorf("%w: %s file, line 1: column 1 is %s, a value column; want the name first",
				ErrBadCSV, f.Kind, strings.TrimSpace(record[0]))
		}
		for _, bad := range f.NotValues {
			if t.HasHeader && strings.EqualFold(strings.TrimSpace(record[1]), bad) {
				return -1, -1, fmt.Errorf("%w: %s file, line 1: column 2 is %s, an identifier, not a value; want a %s column",
					ErrBadCSV, f.Kind, strings.TrimSpace(record[1]), f.ValueHeader[0])
			}
		}
		if t.HasHeader {
			t.NameColumn, t.ValueColumn = strings.TrimSpace(record[0]), strings.TrimSpace(record[1])
		} else {
			t.NameColumn, t.ValueColumn = "column 1", "column 2"
		}
		return 0, 1, nil
	case nameCol >= 0 || valueCol >= 0:
		return -1, -1, fmt.Errorf("%w: %s file, line 1: the header %s needs a name column (%s) and a value column (%s)",
			ErrBadCSV, f.Kind, quoteList(record), strings.Join(f.NameHeaders, ", "), strings.Join(f.ValueHeader, ", "))
	}
	return -1, -1, fmt.Errorf("%w: %s file, line 1: %d columns and no recognised header (%s); want a header with %s and %s columns, or exactly two columns name,value",
		ErrBadCSV, f.Kind, len(record), quoteList(record), f.NameHeaders[0], f.ValueHeader[0])
}

func (t *Table) row(record []string, nameCol, valueCol, line int, f Format) (Row, error) {
	name := strings.TrimSpace(record[nameCol])
	if name == "" {
		return Row{}, fmt.Errorf("%w: %s file, line %d, column %s: empty name", ErrBadCSV, f.Kind, line, t.NameColumn)
	}
	raw := strings.TrimSpace(record[valueCol])
	switch strings.ToUpper(raw) {
	case "", "NA", "NAN", "N/A", "NULL":
		return Row{Line: line, Name: name, NoValue: true}, nil
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return Row{}, fmt.Errorf("%w: %s file, line %d, column %s: %q is not a finite number", ErrBadCSV, f.Kind, line, t.ValueColumn, raw)
	}
	return Row{Line: line, Name: name, Value: v}, nil
}

func isNumber(s string) bool {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil && !math.IsInf(v, 0) && !math.IsNaN(v)
}

func quoteList(fields []string) string {
	q := make([]string, 0, min(len(fields), 6))
	for i, s := range fields {
		if i == 5 {
			q = append(q, "…")
			break
		}
		q = append(q, strconv.Quote(s))
	}
	return "[" + strings.Join(q, " ") + "]"
}

// Sorted returns a copy of names sorted, for order-independent reports.
func Sorted(names []string) []string {
	s := slices.Clone(names)
	slices.Sort(s)
	return s
}
