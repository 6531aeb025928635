package progress

import (
	"sync"
	"testing"
)

// TestCounterOnlyGrowsAndStopsAtTheTotal: Adds from many goroutines report a done count that never goes
// back and never passes the total; the last report is the total; a counter without a callback does nothing.
func TestCounterOnlyGrowsAndStopsAtTheTotal(t *testing.T) {
	var reports [][2]int
	c := New(func(done, total int) { reports = append(reports, [2]int{done, total}) }, 1000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 150 {
				c.Add(1)
			}
		})
	}
	wg.Wait()
	c.Add(c.Total())
	if len(reports) != 8*150+1 {
		t.Fatalf("%d reports, want %d", len(reports), 8*150+1)
	}
	for i, r := range reports {
		if r[1] != 1000 || r[0] > 1000 || (i > 0 && r[0] < reports[i-1][0]) {
			t.Fatalf("report %d is %v after %v", i, r, reports[max(i-1, 0)])
		}
	}
	if last := reports[len(reports)-1]; last != [2]int{1000, 1000} {
		t.Errorf("last report %v, want 1000 of 1000", last)
	}
	New(nil, 5).Add(3) // must not panic
}
