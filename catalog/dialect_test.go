package catalog

import (
	"strings"
	"testing"
)

func TestDollarPlaceholders(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE x = ? AND y = ?`, `SELECT a FROM t WHERE x = $1 AND y = $2`},
		{`UPDATE t SET p = ?1 || substr(p, ?3) WHERE p >= ?2 AND p < ?4`, `UPDATE t SET p = $1 || substr(p, $3) WHERE p >= $2 AND p < $4`},
		{`SELECT '?', "a?b", ? FROM t`, `SELECT '?', "a?b", $1 FROM t`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`?10?`, `$10$1`},
	}
	for _, tt := range tests {
		if got := dollarPlaceholders(tt.in); got != tt.want {
			t.Errorf("dollarPlaceholders(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzDollarPlaceholders: the rewrite leaves no "?" outside quotes,
// changes nothing else, and is the identity on its own output.
func FuzzDollarPlaceholders(f *testing.F) {
	f.Add(`SELECT a FROM t WHERE x = ? AND y = ?2 AND z = '?'`)
	f.Add(`"?" '' ?? ?1?`)
	f.Fuzz(func(t *testing.T, q string) {
		got := dollarPlaceholders(q)
		if strings.Count(got, "?") != quotedMarks(q) {
			t.Fatalf("%q -> %q: a placeholder left", q, got)
		}
		if again := dollarPlaceholders(got); again != got {
			t.Fatalf("%q -> %q -> %q", q, got, again)
		}
		strip := func(s string, mark byte) string {
			var b strings.Builder
			for i := 0; i < len(s); i++ {
				if s[i] == mark && quotedAt(s, i) == 0 {
					for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
						i++
					}
					continue
				}
				b.WriteByte(s[i])
			}
			return b.String()
		}
		if strip(q, '?') != strip(got, '$') && !strings.Contains(q, "$") {
			t.Fatalf("%q -> %q: other text changed", q, got)
		}
	})
}

// quotedMarks counts the "?" inside quotes in s.
func quotedMarks(s string) int {
	n := 0
	for i := range len(s) {
		if s[i] == '?' && quotedAt(s, i) != 0 {
			n++
		}
	}
	return n
}

// quotedAt returns the quote open at byte i of s, or 0.
func quotedAt(s string, i int) byte {
	var quote byte
	for j := range i {
		switch c := s[j]; {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		}
	}
	return quote
}
