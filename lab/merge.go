package lab

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Merge reads lab reports (lab.json files) of the same settings and reports their runs together:
// labs of the same arms on consecutive sets of instances pool into one report over all of them;
// labs of different arms on the same instances pair by seed. Where the labs ran two or more
// disjoint sets of instances, the merged spec lists them (Spec.Sets) and the differences get an
// interval between the sets' means as well. The merged spec's instances run
// from the lowest seed to the highest; seeds no lab ran are left out of every figure. Labs whose
// q, calls or wall-clock budget differ, or that both ran the same arm, p and instance, do not
// merge.
func Merge(paths []string) (Report, error) {
	if len(paths) == 0 {
		return Report{}, fmt.Errorf("lab: merge: no lab.json files given")
	}
	var (
		spec    Spec
		results []Result
		arms    = map[string]Arm{}
		ps      = map[float64]bool{}
		from    = map[runKey]string{} // the file that ran it
		sets    []SeedSet
	)
	for i, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			return Report{}, fmt.Errorf("lab: merge: %w", err)
		}
		var r Report
		if err := json.Unmarshal(raw, &r); err != nil {
			return Report{}, fmt.Errorf("lab: merge: %s is not a lab report (lab.json): %w", path, err)
		}
		s := r.Spec
		if i == 0 {
			spec = Spec{Q: s.Q, Calls: s.Calls, BudgetSeconds: s.BudgetSeconds}
		} else if s.Q != spec.Q || s.Calls != spec.Calls || s.BudgetSeconds != spec.BudgetSeconds {
			return Report{}, fmt.Errorf("lab: merge: %s ran q=%g, %d calls and %gs per run, %s q=%g, %d calls and %gs: merge labs of the same settings",
				path, s.Q, s.Calls, s.BudgetSeconds, paths[0], spec.Q, spec.Calls, spec.BudgetSeconds)
		}
		if set := (SeedSet{FirstSeed: s.FirstSeed, Seeds: s.Seeds}); !slices.Contains(sets, set) {
			sets = append(sets, set)
		}
		for _, a := range s.Arms {
			other, ok := arms[a.Name]
			switch {
			case !ok:
				arms[a.Name] = a
				spec.Arms = append(spec.Arms, a)
			case other.Traces != a.Traces:
				return Report{}, fmt.Errorf("lab: merge: %s ran %s with %d traces a run, an earlier file with %d: merge labs run with the same --traces", path, a.Name, a.Traces, other.Traces)
			}
		}
		for _, p := range s.Ps {
			if !ps[p] {
				ps[p] = true
				spec.Ps = append(spec.Ps, p)
			}
		}
		for _, res := range r.Results {
			key := runKey{res.Arm, res.P, res.Seed}
			if other, ok := from[key]; ok {
				return Report{}, fmt.Errorf("lab: merge: %s and %s both ran %s p=%g instance %d: merge labs of different arms or instances", other, path, res.Arm, res.P, res.Seed)
			}
			from[key] = path
			results = append(results, res)
		}
	}
	if len(results) == 0 {
		return Report{}, ErrNoRuns
	}
	first, last := results[0].Seed, results[0].Seed
	for _, res := range results {
		first, last = min(first, res.Seed), max(last, res.Seed)
	}
	spec.FirstSeed, spec.Seeds = first, int(last-first)+1
	if len(sets) > 1 && disjoint(sets) {
		slices.SortFunc(sets, func(a, b SeedSet) int { return cmp.Compare(a.FirstSeed, b.FirstSeed) })
		spec.Sets = sets
	}
	return NewReport(spec, results), nil
}

// disjoint says whether no two of the sets share an instance: labs of other arms on the same
// set are one set, labs on sets that overlap otherwise have no between-sets interval.
func disjoint(sets []SeedSet) bool {
	for i, a := range sets {
		for _, b := range sets[:i] {
			if a.FirstSeed < b.FirstSeed+uint64(b.Seeds) && b.FirstSeed < a.FirstSeed+uint64(a.Seeds) {
				return false
			}
		}
	}
	return true
}
