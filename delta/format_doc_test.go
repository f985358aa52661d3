package delta

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// formatDoc reads docs/FORMAT.md and returns the lines of the section
// whose heading starts with heading, up to the next heading of that level.
func formatDoc(t *testing.T, heading string) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, heading)
			continue
		}
		if in {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatalf("docs/FORMAT.md has no section %q", heading)
	}
	return out
}

// tableRows returns the cells of a section's table rows whose first
// column is a number.
func tableRows(lines []string) [][]string {
	var rows [][]string
	for _, l := range lines {
		if !strings.HasPrefix(l, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if _, err := strconv.Atoi(cells[0]); err == nil {
			rows = append(rows, cells)
		}
	}
	return rows
}

// TestFormatDocFields keeps docs/FORMAT.md's tables of the fixed header
// (§2), the compact head (§2a), the chunk table (§3), the layout (§1) and
// the strategy ids (§4)
// equal to the constants the code reads and writes objects with.
func TestFormatDocFields(t *testing.T) {
	for _, tc := range []struct {
		heading string
		fields  []field
		size    int
	}{
		{"## 2. Fixed header", fixedHeaderFields, fixedHeaderSize},
		{"## 3. Chunk table", chunkEntryFields, chunkEntrySize},
		{"## 2a. Compact objects", compactFields, compactHeadSize},
	} {
		var rows [][]string
		for _, r := range tableRows(formatDoc(t, tc.heading)) {
			if _, err := strconv.Atoi(r[1]); err == nil { // fixed-size fields only
				rows = append(rows, r)
			}
		}
		if len(rows) != len(tc.fields) {
			t.Fatalf("%s: the document has %d fixed fields, the code %d", tc.heading, len(rows), len(tc.fields))
		}
		end := 0
		for i, f := range tc.fields {
			off, _ := strconv.Atoi(rows[i][0])
			size, _ := strconv.Atoi(rows[i][1])
			if rows[i][2] != f.name || off != f.off || size != f.size {
				t.Errorf("%s row %d: %s at %d, %d bytes; the code has %s at %d, %d bytes", tc.heading, i, rows[i][2], off, size, f.name, f.off, f.size)
			}
			if f.off != end {
				t.Errorf("%s: %s starts at %d, the field before ends at %d", tc.heading, f.name, f.off, end)
			}
			end = f.end()
		}
		if end != tc.size {
			t.Errorf("%s: fields end at %d, size %d", tc.heading, end, tc.size)
		}
	}

	layout := strings.Join(formatDoc(t, "## 1. Layout"), "\n")
	for _, want := range []string{
		"| fixed header       |  " + strconv.Itoa(fixedHeaderSize) + " bytes",
		"| shape              |  " + strconv.Itoa(shapeDimSize) + " × ndim bytes",
		"| chunk table        |  " + strconv.Itoa(chunkEntrySize) + " × num_chunks bytes",
		"| header CRC32C      |  " + strconv.Itoa(headerCRCSize) + " bytes",
	} {
		if !strings.Contains(layout, want) {
			t.Errorf("§1 layout lacks %q", want)
		}
	}

	ids := tableRows(formatDoc(t, "## 4. The word view and the strategies"))
	name := regexp.MustCompile("^`([a-z0-9_]+)`$")
	if len(ids) != len(strategyIDs) {
		t.Fatalf("§4 lists %d strategies, the code %d", len(ids), len(strategyIDs))
	}
	for i, r := range ids {
		id, _ := strconv.Atoi(r[0])
		m := name.FindStringSubmatch(r[1])
		if m == nil || Strategy(m[1]) != strategyIDs[i].s || id != int(strategyIDs[i].id) {
			t.Errorf("§4 row %d: id %s %s; the code has %d %s", i, r[0], r[1], strategyIDs[i].id, strategyIDs[i].s)
		}
		if lossless := r[2] == "yes"; lossless != strategyIDs[i].s.IsLossless() {
			t.Errorf("§4: %s lossless %q", strategyIDs[i].s, r[2])
		}
	}
}
