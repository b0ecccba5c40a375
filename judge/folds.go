package judge

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// Folds assigns each of n rows to one of k folds, seeded. With groups (one per row) every group
// lies in a single fold and folds are balanced by rows; otherwise with labels (one per row) each
// class is spread evenly over the folds (stratified); otherwise rows are dealt out at random.
func Folds(n, k int, labels, groups []string, seed uint64) ([]int, error) {
	switch {
	case k < 2:
		return nil, fmt.Errorf("folds is %d: use at least 2", k)
	case labels != nil && len(labels) != n:
		return nil, fmt.Errorf("%d labels for %d rows", len(labels), n)
	case groups != nil && len(groups) != n:
		return nil, fmt.Errorf("%d groups for %d rows", len(groups), n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	fold := make([]int, n)
	if groups != nil {
		members := bucket(groups)
		if len(members) < k {
			return nil, fmt.Errorf("%d groups cannot fill %d folds: use fewer folds or another group column", len(members), k)
		}
		keys := sortedKeys(members)
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		// Largest groups first, each into the fold with fewest rows so far.
		sort.SliceStable(keys, func(i, j int) bool { return len(members[keys[i]]) > len(members[keys[j]]) })
		size := make([]int, k)
		for _, g := range keys {
			f := 0
			for i := range size {
				if size[i] < size[f] {
					f = i
				}
			}
			for _, r := range members[g] {
				fold[r] = f
			}
			size[f] += len(members[g])
		}
		return fold, nil
	}
	if n < k {
		return nil, fmt.Errorf("%d rows cannot fill %d folds: use fewer folds", n, k)
	}
	strata := map[string][]int{"": seq(n)}
	if labels != nil {
		strata = bucket(labels)
	}
	next := 0 // continues across classes so that fold sizes stay within one of each other
	for _, key := range sortedKeys(strata) {
		rows := strata[key]
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, r := range rows {
			fold[r] = next
			next = (next + 1) % k
		}
	}
	return fold, nil
}

// Holdout picks about fraction of n rows to withhold, seeded: stratified by label when labels
// are given, whole groups when groups are. It returns which rows are held out.
func Holdout(n int, fraction float64, labels, groups []string, seed uint64) ([]bool, error) {
	switch {
	case fraction < 0 || fraction >= 0.5:
		return nil, fmt.Errorf("holdout fraction is %g: use 0 (none) up to below 0.5", fraction)
	case labels != nil && len(labels) != n:
		return nil, fmt.Errorf("%d labels for %d rows", len(labels), n)
	case groups != nil && len(groups) != n:
		return nil, fmt.Errorf("%d groups for %d rows", len(groups), n)
	}
	held := make([]bool, n)
	if fraction == 0 {
		return held, nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc909))
	if groups != nil {
		members := bucket(groups)
		keys := sortedKeys(members)
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		want, got := int(fraction*float64(n)+0.5), 0
		for _, g := range keys {
			if got >= want {
				break
			}
			for _, r := range members[g] {
				held[r] = true
			}
			got += len(members[g])
		}
		return held, nil
	}
	strata := map[string][]int{"": seq(n)}
	if labels != nil {
		strata = bucket(labels)
	}
	for _, key := range sortedKeys(strata) {
		rows := strata[key]
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		take := int(fraction*float64(len(rows)) + 0.5)
		if take >= len(rows) {
			take = len(rows) - 1 // every class keeps a training row
		}
		for _, r := range rows[:take] {
			held[r] = true
		}
	}
	return held, nil
}

func bucket(keys []string) map[string][]int {
	m := map[string][]int{}
	for i, k := range keys {
		m[k] = append(m[k], i)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
