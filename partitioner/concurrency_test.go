package partitioner

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many goroutines produce keyless records to a few topics while a sender
// goroutine reports load and availability and the partition count changes.
// Run with -race; every partition handed out must be in range.
func TestStickyConcurrentUse(t *testing.T) {
	s := NewSticky(StickyConfig{BatchSize: 64, Adaptive: true, AvailabilityTimeout: time.Millisecond})
	topics := []string{"orders", "payments", "audit"}
	var partitions atomic.Int64 // current partition count of every topic
	partitions.Store(8)

	stop := make(chan struct{})
	var sender sync.WaitGroup
	sender.Go(func() {
		rng := rand.New(rand.NewPCG(1, 1))
		queues := make([]int32, 16)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := 4 + rng.IntN(12)
			partitions.Store(int64(n))
			for i := range queues[:n] {
				queues[i] = int32(rng.IntN(20))
			}
			topic := topics[rng.IntN(len(topics))]
			s.UpdateLoad(topic, queues[:n])
			s.SetUnavailable(topic, int32(rng.IntN(n)), rng.IntN(2) == 0)
		}
	})

	const producers, records = 8, 5000
	var wg sync.WaitGroup
	errs := make(chan string, producers)
	for g := range producers {
		wg.Go(func() {
			available := []int32{0, 1, 2, 3}
			for i := range records {
				topic := topics[(g+i)%len(topics)]
				n := int(partitions.Load())
				avail := available
				if i%2 == 0 {
					avail = nil
				}
				p := s.Partition(topic, n, avail)
				if p < 0 || int(p) >= n || (avail != nil && p > 3) {
					errs <- "partition out of range or unavailable"
					return
				}
				s.OnAppend(topic, p, 10+i%50, i%97 == 0, n, avail)
				_ = s.Current(topic)
			}
		})
	}
	wg.Wait()
	close(stop)
	sender.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestRoundRobinConcurrentUse(t *testing.T) {
	rr := NewRoundRobin()
	const goroutines, calls, n = 8, 3000, 6
	counts := make([][n]int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range calls {
				counts[g][rr.Partition("t", nil, nil, n)]++
			}
		})
	}
	wg.Wait()
	// The shared counter hands out every number once, so the totals are exact.
	for p := range n {
		total := 0
		for g := range goroutines {
			total += counts[g][p]
		}
		if total != goroutines*calls/n {
			t.Errorf("partition %d got %d records, want %d", p, total, goroutines*calls/n)
		}
	}
}
