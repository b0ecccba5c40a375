package memory

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction: unlike
// time.RFC3339Nano, which trims trailing zeros, its text order is time order,
// so ORDER BY on a time column sorts correctly.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(col, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("memory: column %s holds %q, not a time: %w", col, s, err)
	}
	return t.UTC(), nil
}

func nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func parseNullTime(col string, ns sql.NullString) (*time.Time, error) {
	if !ns.Valid {
		return nil, nil
	}
	t, err := parseTime(col, ns.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// nullIfEmpty stores "" as NULL, for columns where NULL is what a foreign key
// needs to mean "none".
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonArg validates an opaque JSON document before it is stored, so that a
// record read back can always be re-encoded by the MCP layer. Absent (empty)
// documents are stored as NULL.
func jsonArg(what string, m json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(m)) == 0 {
		return nil, nil
	}
	if !json.Valid(m) {
		return nil, fmt.Errorf("%s is not valid JSON: build it with encoding/json (json.Marshal) or leave it empty", what)
	}
	return string(m), nil
}

func jsonCol(ns sql.NullString) json.RawMessage {
	if !ns.Valid {
		return nil
	}
	return json.RawMessage(ns.String)
}

// scoreArg refuses non-finite scores: SQLite would silently store NaN as
// NULL, turning "scored NaN" into "no score", and an infinite validation
// score always means a broken metric rather than a result to compare.
func scoreArg(what string, f *float64) (any, error) {
	if f == nil {
		return nil, nil
	}
	if math.IsNaN(*f) || math.IsInf(*f, 0) {
		return nil, fmt.Errorf("%s is %v: store nil for a step without a usable score", what, *f)
	}
	return *f, nil
}

func scoreCol(nf sql.NullFloat64) *float64 {
	if !nf.Valid {
		return nil
	}
	v := nf.Float64
	return &v
}

// errSecret reports a JSON document that looks like it carries a credential.
var errSecret = errors.New("looks like a credential")

// checkNoSecrets refuses a JSON document holding a credential: the database
// is a plain file that users copy, share and attach to bug reports, so keys
// belong in the environment, never in a run record. It names the field, never
// the value.
func checkNoSecrets(what string, m json.RawMessage) error {
	if len(bytes.TrimSpace(m)) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(m, &v); err != nil {
		return fmt.Errorf("%s is not valid JSON: build it with encoding/json (json.Marshal) or leave it empty", what)
	}
	if field := findSecret(v, ""); field != "" {
		return fmt.Errorf("%s field %q %w: keep API keys and tokens in the environment and leave them out of what is stored", what, field, errSecret)
	}
	return nil
}

// findSecret returns the JSON path of the first string that sits under a
// credential-like name or looks like an OpenAI-style key, or "".
func findSecret(v any, at string) string {
	switch x := v.(type) {
	case map[string]any:
		// Sorted, so the same document always names the same field.
		for _, k := range slices.Sorted(maps.Keys(x)) {
			child := x[k]
			p := k
			if at != "" {
				p = at + "." + k
			}
			if s, ok := child.(string); ok && s != "" && secretName(k) {
				return p
			}
			if f := findSecret(child, p); f != "" {
				return f
			}
		}
	case []any:
		for i, child := range x {
			if f := findSecret(child, fmt.Sprintf("%s[%d]", at, i)); f != "" {
				return f
			}
		}
	case string:
		if looksLikeKey(x) {
			if at == "" {
				return "(top level)"
			}
			return at
		}
	}
	return ""
}

func secretName(k string) bool {
	n := strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(k))
	for _, suffix := range []string{"apikey", "secret", "password", "passwd", "privatekey", "secretkey"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	switch n {
	case "token", "accesstoken", "authtoken", "bearertoken", "refreshtoken", "authorization":
		return true
	}
	return false
}

// looksLikeKey catches keys stored under names nobody predicted: OpenAI and
// Anthropic style keys share the "sk-" prefix and are long and unbroken.
func looksLikeKey(s string) bool {
	if !strings.HasPrefix(s, "sk-") || len(s) < 24 {
		return false
	}
	for _, r := range s[3:] {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}
