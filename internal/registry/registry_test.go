package registry

import (
	"fmt"
	"sync"
	"testing"
)

func TestRegistryReturnsOneStatePerTopic(t *testing.T) {
	var r Map[int]
	const topics = 1000
	first := make([]*int, topics)
	for i := range topics {
		first[i] = r.Get(fmt.Sprint("topic-", i))
		*first[i] = i
	}
	for round := range 3 {
		for i := range topics {
			if got := r.Get(fmt.Sprint("topic-", i)); got != first[i] || *got != i {
				t.Fatalf("round %d: topic-%d has a different state", round, i)
			}
		}
	}
	if m := r.read.Load(); m == nil || len(*m) != topics {
		t.Fatalf("published map does not hold all %d topics after repeated lookups", topics)
	}
}

func TestRegistryConcurrentCreation(t *testing.T) {
	var r Map[int]
	const goroutines, topics = 8, 200
	seen := make([]map[string]*int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			seen[g] = make(map[string]*int, topics)
			for i := range topics {
				topic := fmt.Sprint((i*7 + g) % topics) // each goroutine in its own order
				seen[g][topic] = r.Get(topic)
			}
		})
	}
	wg.Wait()
	for i := range topics {
		topic := fmt.Sprint(i)
		want := r.Get(topic)
		for g := range goroutines {
			if seen[g][topic] != want {
				t.Fatalf("goroutine %d saw a second state for topic %s", g, topic)
			}
		}
	}
}

func TestRegistryCreateGetsTheName(t *testing.T) {
	calls := 0
	r := Map[string]{Create: func(name string) *string {
		calls++
		s := "state of " + name
		return &s
	}}
	for range 3 {
		if got := *r.Get("orders"); got != "state of orders" {
			t.Fatalf("Get(orders) = %q", got)
		}
	}
	if calls != 1 {
		t.Fatalf("Create ran %d times for one name; want 1", calls)
	}
}

func TestRegistryGetDoesNotAllocate(t *testing.T) {
	var r Map[int]
	r.Get("a")
	r.Get("b")
	r.Get("a") // enough misses to publish both
	if n := testing.AllocsPerRun(100, func() { r.Get("b") }); n != 0 {
		t.Fatalf("Get of an established name allocates %v times", n)
	}
}

func BenchmarkMapGet(b *testing.B) {
	var r Map[int]
	names := make([]string, 64)
	for i := range names {
		names[i] = fmt.Sprint("topic-", i)
		r.Get(names[i])
	}
	for i := range names {
		r.Get(names[i]) // publish them all
	}
	for i := 0; b.Loop(); i++ {
		r.Get(names[i%len(names)])
	}
}

// TestRegistryLookupCreatesNothing: Lookup finds what Get created, returns
// nil for other names without creating them, and a name found only under
// the lock reaches the published map like one Get found there.
func TestRegistryLookupCreatesNothing(t *testing.T) {
	var r Map[int]
	created := 0
	r.Create = func(string) *int { created++; return new(int) }
	if v := r.Lookup("a"); v != nil || created != 0 {
		t.Fatalf("Lookup of a new name: %v, %d created", v, created)
	}
	a := r.Get("a")
	b := r.Get("b")
	if r.Lookup("a") != a || r.Lookup("b") != b || created != 2 {
		t.Fatalf("Lookup did not find Get's states (%d created)", created)
	}
	if v := r.Lookup("c"); v != nil || created != 2 {
		t.Fatalf("Lookup of an unknown name: %v, %d created", v, created)
	}
	if n := testing.AllocsPerRun(100, func() { r.Lookup("b") }); n != 0 {
		t.Fatalf("Lookup of an established name allocates %v times", n)
	}
	if _, ok := (*r.read.Load())["b"]; !ok {
		t.Fatal("b never reached the published map")
	}
}
