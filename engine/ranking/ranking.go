// Package ranking decides which entries of the cross-run success memory are most worth showing a
// gradient: it weighs text relevance, task similarity, recency, gain and trust (how often an entry
// helped when shown). Storage (package memory, or a PostgreSQL memory) hands it candidates with
// their raw fields and full-text relevance; the policy lives here, with the engine that uses it.
package ranking

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// Candidates is what the ranking needs of a success memory: the entries a query selects, each with
// its raw text relevance.
type Candidates interface {
	MomentumCandidates(ctx context.Context, q memory.CandidateQuery) ([]memory.Candidate, error)
}

// Query selects and ranks entries. Text and Fingerprint rank; the other fields filter.
type Query struct {
	// Text is free text matched against hypothesis, summary and component (stemmed: "encoding"
	// finds "encoded"); "" for no text match.
	Text string `json:"text,omitempty"`
	// Fingerprint ranks entries from similar tasks higher; it excludes nothing.
	Fingerprint *task.Fingerprint `json:"fingerprint,omitempty"`
	// Component, TaskID and RunID keep only entries with that value.
	Component string `json:"component,omitempty"`
	TaskID    string `json:"task_id,omitempty"`
	RunID     string `json:"run_id,omitempty"`
	// ExcludeRunID drops one run's entries, e.g. the current run, whose own successes the engine
	// already shows.
	ExcludeRunID string `json:"exclude_run_id,omitempty"`
	// Kind is memory.MomentumSuccess (the default, ""), MomentumFailure or MomentumAny.
	Kind string `json:"kind,omitempty"`
	// Limit is how many entries to return: 10 when 0, at most 100 (larger values are lowered to
	// 100).
	Limit int `json:"limit,omitempty"`
}

// Ranked is one entry Rank returned, with its score and why it scored so.
type Ranked struct {
	Entry memory.Entry `json:"entry"`
	Score float64      `json:"score"`
	// Why reads like "text match 0.82 (bm25), same modality, metric and target type, gain +0.12,
	// 3 days old, helped 2 of 3 uses".
	Why string `json:"why"`
}

// ErrInvalidQuery reports a query with a field to fix; the wrapping error names it. Errors of the
// store's filters wrap memory.ErrInvalidQuery, which this is.
var ErrInvalidQuery = memory.ErrInvalidQuery

// A query's score for an entry is
//
//	score = relevance × (0.5 + trust)
//	relevance = weighted mean of the signals the query has:
//	    text        0.5  bm25 of the match, divided by the best match's (when Text is set)
//	    fingerprint 0.3  FingerprintSimilarity to the query's (when Fingerprint is set)
//	    recency     0.1  0.5^(age / 30 days)
//	    gain        0.1  (1 + tanh(3 × gain)) / 2
//	trust = (helped + 1) / (uses + 2)
//
// Relevance decides what an entry is about; trust multiplies it, from 0.5× the relevance up to
// 1.5× it, so an entry shown often that rarely helped sinks below a comparable one that did (or is
// untried: trust 0.5, factor 1.0), whatever its age or gain.
const (
	weightText        = 0.5
	weightFingerprint = 0.3
	weightRecency     = 0.1
	weightGain        = 0.1
	recencyHalfLife   = 30 * 24 * time.Hour
	gainSharpness     = 3.0

	defaultLimit = 10
	maxLimit     = 100
	// Candidates ranked per query: the store pre-ranks by text relevance (or by fingerprint and
	// age without text) and hands over this many.
	minCandidates       = 100
	candidatesPerResult = 10
)

// Rank returns up to q.Limit entries of the memory, best first, scored as the constants above
// describe; entries of equal score come newest first. Without Text, every entry passing the
// filters is a candidate; with Text, only entries matching it (all of its words if enough do,
// else any). Errors name the query field to fix and wrap ErrInvalidQuery.
func Rank(ctx context.Context, src Candidates, q Query) ([]Ranked, error) {
	switch {
	case q.Limit < 0:
		return nil, fmt.Errorf("ranking: %w: limit %d is negative: pass 0 for the default of %d, or up to %d", ErrInvalidQuery, q.Limit, defaultLimit, maxLimit)
	case q.Limit == 0:
		q.Limit = defaultLimit
	case q.Limit > maxLimit:
		q.Limit = maxLimit
	}
	cq := memory.CandidateQuery{
		MomentumQuery: memory.MomentumQuery{Text: q.Text, Component: q.Component, TaskID: q.TaskID, RunID: q.RunID,
			ExcludeRunID: q.ExcludeRunID, Kind: q.Kind},
		Pool:   max(minCandidates, candidatesPerResult*q.Limit),
		Enough: q.Limit,
	}
	if q.Fingerprint != nil {
		cq.Near, cq.Similarity = q.Fingerprint, FingerprintSimilarity
	}
	cands, err := src.MomentumCandidates(ctx, cq)
	if err != nil {
		return nil, err
	}
	return rank(q, cands, time.Now()), nil
}

// rank scores the candidates and keeps the best q.Limit.
func rank(q Query, cands []memory.Candidate, now time.Time) []Ranked {
	bestText := 0.0
	for _, c := range cands {
		bestText = math.Max(bestText, c.Text)
	}
	hasText := strings.TrimSpace(q.Text) != ""
	out := make([]Ranked, 0, len(cands))
	for _, c := range cands {
		var (
			sum, weights float64
			why          []string
		)
		e := c.Entry
		if e.Kind == memory.MomentumFailure {
			why = append(why, "failure")
		}
		if hasText {
			t := c.Text // 1 or 0.5 without bm25
			if c.Match == memory.MatchBM25 {
				t = 0
				if bestText > 0 {
					t = c.Text / bestText
				}
			}
			sum, weights = sum+weightText*t, weights+weightText
			why = append(why, fmt.Sprintf("text match %.2f (%s)", t, c.Match))
		}
		if q.Fingerprint != nil {
			sim, words := fingerprintMatch(*q.Fingerprint, e.Fingerprint)
			sum, weights = sum+weightFingerprint*sim, weights+weightFingerprint
			why = append(why, words)
		}
		age := max(now.Sub(e.CreatedAt), 0)
		recency := math.Pow(0.5, float64(age)/float64(recencyHalfLife))
		gain := (1 + math.Tanh(gainSharpness*e.Gain)) / 2
		sum += weightRecency*recency + weightGain*gain
		weights += weightRecency + weightGain
		if e.ScoreAfter != nil && e.ScoreBefore != nil {
			why = append(why, fmt.Sprintf("gain %+.3g", e.Gain))
		} else {
			why = append(why, "no score change")
		}
		why = append(why, ageWords(age))
		trust := float64(e.Helped+1) / float64(e.Uses+2)
		if e.Uses == 0 {
			why = append(why, "not used yet")
		} else {
			why = append(why, fmt.Sprintf("helped %d of %d uses", e.Helped, e.Uses))
		}
		out = append(out, Ranked{Entry: e, Score: sum / weights * (0.5 + trust), Why: strings.Join(why, ", ")})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if !a.Entry.CreatedAt.Equal(b.Entry.CreatedAt) {
			return a.Entry.CreatedAt.After(b.Entry.CreatedAt)
		}
		return a.Entry.ID < b.Entry.ID
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func ageWords(age time.Duration) string {
	days := int(age / (24 * time.Hour))
	switch {
	case days == 0:
		return "from today"
	case days == 1:
		return "1 day old"
	case days < 60:
		return fmt.Sprintf("%d days old", days)
	default:
		return fmt.Sprintf("%d months old", days/30)
	}
}

// FingerprintSimilarity scores how alike two task fingerprints are, from 0 to 1: modality 0.3,
// metric 0.25, target type 0.2, rows class 0.15, columns class 0.1, each earned when equal (and
// half of a size class's share when the classes are adjacent). Empty fields are unknown and never
// match.
func FingerprintSimilarity(a, b task.Fingerprint) float64 {
	sim, _ := fingerprintMatch(a, b)
	return sim
}

// fingerprintMatch also says in words what matched.
func fingerprintMatch(a, b task.Fingerprint) (float64, string) {
	var sim float64
	var same, near []string
	eq := func(x, y string, w float64, name string) {
		if x != "" && x == y {
			sim += w
			same = append(same, name)
		}
	}
	size := func(classes []string, x, y string, w float64, name string) {
		i, j := slices.Index(classes, x), slices.Index(classes, y)
		switch {
		case i < 0 || j < 0:
		case i == j:
			sim += w
			same = append(same, name)
		case i-j == 1 || j-i == 1:
			sim += w / 2
			near = append(near, name)
		}
	}
	eq(a.Modality, b.Modality, 0.3, "modality")
	eq(a.Metric, b.Metric, 0.25, "metric")
	eq(a.TargetType, b.TargetType, 0.2, "target type")
	size(task.RowsClasses(), a.RowsClass, b.RowsClass, 0.15, "rows")
	size(task.ColsClasses(), a.ColsClass, b.ColsClass, 0.1, "columns")
	var parts []string
	if len(same) > 0 {
		parts = append(parts, "same "+andList(same))
	}
	if len(near) > 0 {
		parts = append(parts, "similar "+andList(near))
	}
	if len(parts) == 0 {
		return sim, "unrelated task kind"
	}
	return sim, fmt.Sprintf("task %.2f alike (%s)", sim, strings.Join(parts, "; "))
}

func andList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	default:
		return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
	}
}

// IsInvalid reports whether err is a query the caller can fix (it wraps ErrInvalidQuery).
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalidQuery) }
