package task

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkHausdorff3D measures uw-madison's per-case-day Hausdorff distance
// on a volume of real size (144 slices of 266 x 266) with 30,000 voxels on
// each side, the part of that grader whose cost grows fastest.
func BenchmarkHausdorff3D(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	vol := func() *volume {
		v := &volume{d: 144, h: 266, w: 266, set: map[[3]int]bool{}}
		for len(v.on) < 30000 {
			c := [3]int{r.IntN(v.d), 100 + r.IntN(60), 100 + r.IntN(60)}
			if !v.set[c] {
				v.set[c] = true
				v.on = append(v.on, c)
			}
		}
		return v
	}
	a, p := vol(), vol()
	b.ResetTimer()
	for range b.N {
		if d := hausdorff3D(p, a); d <= 0 || d >= 1 {
			b.Fatalf("distance %v", d)
		}
	}
}
