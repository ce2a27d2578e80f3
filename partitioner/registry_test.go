package partitioner

import (
	"fmt"
	"sync"
	"testing"
)

func TestRegistryReturnsOneStatePerTopic(t *testing.T) {
	var r registry[int]
	const topics = 1000
	first := make([]*int, topics)
	for i := range topics {
		first[i] = r.get(fmt.Sprint("topic-", i))
		*first[i] = i
	}
	for round := range 3 {
		for i := range topics {
			if got := r.get(fmt.Sprint("topic-", i)); got != first[i] || *got != i {
				t.Fatalf("round %d: topic-%d has a different state", round, i)
			}
		}
	}
	if m := r.read.Load(); m == nil || len(*m) != topics {
		t.Fatalf("published map does not hold all %d topics after repeated lookups", topics)
	}
}

func TestRegistryConcurrentCreation(t *testing.T) {
	var r registry[int]
	const goroutines, topics = 8, 200
	seen := make([]map[string]*int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			seen[g] = make(map[string]*int, topics)
			for i := range topics {
				topic := fmt.Sprint((i*7 + g) % topics) // each goroutine in its own order
				seen[g][topic] = r.get(topic)
			}
		})
	}
	wg.Wait()
	for i := range topics {
		topic := fmt.Sprint(i)
		want := r.get(topic)
		for g := range goroutines {
			if seen[g][topic] != want {
				t.Fatalf("goroutine %d saw a second state for topic %s", g, topic)
			}
		}
	}
}
