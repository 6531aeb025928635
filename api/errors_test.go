package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"slices"
	"testing"
)

// declaredCodes lists the ErrorCode constants declared in errors.go, read from the source so that a code
// added there without a row in the table fails TestEveryCodeMapsToAStatusAndBack.
func declaredCodes(t *testing.T) []ErrorCode {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []ErrorCode
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "ErrorCode" {
				continue
			}
			for _, v := range vs.Values {
				lit := v.(*ast.BasicLit)
				out = append(out, ErrorCode(lit.Value[1:len(lit.Value)-1]))
			}
		}
	}
	return out
}

// TestEveryCodeMapsToAStatusAndBack: every declared code is in the table, once, with a 4xx or 5xx status (500
// only for INTERNAL); the status reads back as a code of the same status, and as the code itself for the
// first code of each status. Statuses outside the table read as INVALID (4xx) or UNAVAILABLE (5xx).
func TestEveryCodeMapsToAStatusAndBack(t *testing.T) {
	declared := declaredCodes(t)
	if len(declared) < 14 {
		t.Fatalf("found %d ErrorCode constants in errors.go: %v", len(declared), declared)
	}
	codes := Codes()
	for _, c := range declared {
		if n := len(slices.DeleteFunc(slices.Clone(codes), func(x ErrorCode) bool { return x != c })); n != 1 {
			t.Errorf("%s is in the table %d times, want once", c, n)
		}
	}
	if len(codes) != len(declared) {
		t.Errorf("the table has %d codes, errors.go declares %d", len(codes), len(declared))
	}
	first := map[int]ErrorCode{}
	for _, c := range codes {
		st := StatusOf(c)
		if st < 400 || st > 599 || (st == http.StatusInternalServerError) != (c == CodeInternal) {
			t.Errorf("%s → %d", c, st)
		}
		back := CodeOf(st)
		if StatusOf(back) != st {
			t.Errorf("%s → %d → %s → %d", c, st, back, StatusOf(back))
		}
		if _, ok := first[st]; !ok {
			first[st] = c
			if back != c {
				t.Errorf("%s → %d → %s, want %s back", c, st, back, c)
			}
		}
	}
	for st, want := range map[int]ErrorCode{http.StatusMethodNotAllowed: CodeInvalid, http.StatusUnprocessableEntity: CodeInvalid,
		http.StatusGatewayTimeout: CodeUnavailable, 599: CodeUnavailable} {
		if got := CodeOf(st); got != want {
			t.Errorf("CodeOf(%d) = %s, want %s", st, got, want)
		}
	}
	if got := StatusOf("NO_SUCH_CODE"); got != http.StatusInternalServerError {
		t.Errorf("an unknown code answers %d, want 500", got)
	}
}
