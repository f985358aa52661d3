package catalog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// dialect is what differs between the SQL of the two catalogs. The shared
// code (reader.go, tx.go, rename.go, parts.go, settings.go, work.go,
// changes.go) writes its queries once, in the SQL both databases accept,
// with "?" placeholders ("?N" for numbered ones); the dialect fills in the
// rest.
type dialect struct {
	name string
	// rebind rewrites a query's placeholders for the driver (nil: as
	// written).
	rebind func(query string) string
	// suffix is an expression for the text of column col from byte ?3 on
	// (1-based): the part of a path below a renamed directory.
	suffix string
	// stamp signs the changes logged by the transaction about to commit
	// with the origin (the query's one argument) and, where the database
	// does not number them as they are logged, numbers them after the
	// newest committed one.
	stamp string
	// now is an expression for the database's clock in nanoseconds since
	// the epoch (the server's, for every host of a PostgreSQL catalog).
	now string
	// ids is a table of one text column, id, from one argument: a JSON
	// array of strings (see idList).
	ids string
}

var sqliteDialect = &dialect{
	name:   "sqlite",
	suffix: `CAST(substr(CAST(%s AS BLOB), ?3) AS TEXT)`,
	stamp:  `UPDATE changes SET origin = ? WHERE origin IS NULL`,
	now:    `CAST(unixepoch('subsec') * 1e9 AS INTEGER)`,
	ids:    `(SELECT value AS id FROM json_each(?))`,
}

// postgresDialect numbers the changes at commit, under the catalog's write
// lock: sequence numbers follow commit order with no gap (see pgschema.go).
var postgresDialect = &dialect{
	name:   "postgres",
	rebind: dollarPlaceholders,
	suffix: `convert_from(substr(convert_to(%s, 'UTF8'), ?3), 'UTF8')`,
	stamp: `WITH fresh AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM changes WHERE seq IS NULL)
UPDATE changes SET origin = ?, seq = (SELECT coalesce(max(seq), 0) FROM changes) + fresh.n
FROM fresh WHERE changes.id = fresh.id`,
	now: `(extract(epoch FROM clock_timestamp()) * 1e9)::bigint`,
	ids: `(SELECT jsonb_array_elements_text(CAST(? AS jsonb)) AS id)`,
}

// suffixOf is d.suffix for column col.
func (d *dialect) suffixOf(col string) string { return fmt.Sprintf(d.suffix, col) }

// rebound caches dollarPlaceholders: the catalog's queries are a few
// dozen constant strings.
var rebound sync.Map // query → rewritten query

// dollarPlaceholders rewrites "?" placeholders as PostgreSQL's "$1",
// "$2"... in order, and "?N" as "$N"; a "?" inside a quoted string or
// identifier is left alone.
func dollarPlaceholders(query string) string {
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(query[i+1 : j])
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	s := b.String()
	rebound.Store(query, s)
	return s
}

// idList is the argument of dialect.ids for ids.
func idList(ids []string) string {
	b, _ := json.Marshal(ids) // strings always marshal
	return string(b)
}
