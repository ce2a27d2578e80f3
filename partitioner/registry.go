package partitioner

import (
	"maps"
	"sync"
	"sync/atomic"
)

// registry maps topic names to per-topic state of type T, created on first
// use and kept for the life of the registry.
//
// Lookups of established topics read an immutable map published through an
// atomic pointer, so they take no lock and do not allocate. A topic not yet
// in that map is found or created in a mutex-guarded map holding every topic;
// the published map is rebuilt from it once the misses add up to its size,
// which keeps the copying cost per miss constant however many topics there are.
type registry[T any] struct {
	read atomic.Pointer[map[string]*T] // published snapshot; never written after Store

	// create makes the state of a new topic; nil means new(T). Set before
	// first use and never changed.
	create func() *T

	mu     sync.Mutex    // guards all and misses
	all    map[string]*T // every topic ever looked up; a superset of *read
	misses int           // lookups that missed *read since it was last published
}

// get returns the state of topic, creating it the first time.
func (r *registry[T]) get(topic string) *T {
	if m := r.read.Load(); m != nil {
		if v, ok := (*m)[topic]; ok {
			return v
		}
	}
	return r.getSlow(topic)
}

// getSlow is get for a topic missing from the published map.
func (r *registry[T]) getSlow(topic string) *T {
	r.mu.Lock()
	defer r.mu.Unlock()

	published := 0
	if m := r.read.Load(); m != nil {
		if v, ok := (*m)[topic]; ok {
			return v
		}
		published = len(*m)
	}

	v, ok := r.all[topic]
	if !ok {
		if r.all == nil {
			r.all = make(map[string]*T)
		}
		if r.create != nil {
			v = r.create()
		} else {
			v = new(T)
		}
		r.all[topic] = v
	}

	r.misses++
	if r.misses >= published {
		snapshot := maps.Clone(r.all)
		r.read.Store(&snapshot)
		r.misses = 0
	}
	return v
}
