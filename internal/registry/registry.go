// Package registry maps names (topics) to per-name state that is created on
// first use and kept for the life of the map, with lookups that take no lock:
// the partitioners and the accumulator find a topic's state on every record.
package registry

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Map maps names to state of type T. The zero value is ready to use and
// creates new(T); it must not be copied after first use.
//
// Lookups of established names read an immutable map published through an
// atomic pointer, so they take no lock and do not allocate. A name not yet in
// that map is found or created in a mutex-guarded map holding every name; the
// published map is rebuilt from it once the misses add up to its size, which
// keeps the copying cost per miss constant however many names there are.
type Map[T any] struct {
	read atomic.Pointer[map[string]*T] // published snapshot; never written after Store

	// Create makes the state of a new name; nil means new(T). It runs under
	// the map's mutex, so it must not look up this map. Set it before first
	// use and do not change it.
	Create func(name string) *T

	mu     sync.Mutex    // guards all and misses
	all    map[string]*T // every name ever looked up; a superset of *read
	misses int           // lookups that missed *read since it was last published
}

// Get returns the state of name, creating it the first time. Every call for
// the same name returns the same pointer.
func (m *Map[T]) Get(name string) *T {
	if r := m.read.Load(); r != nil {
		if v, ok := (*r)[name]; ok {
			return v
		}
	}
	return m.getSlow(name, true)
}

// Lookup returns the state of name, or nil when it was never created. It
// creates nothing, so names that may be invalid can be tried.
func (m *Map[T]) Lookup(name string) *T {
	if r := m.read.Load(); r != nil {
		if v, ok := (*r)[name]; ok {
			return v
		}
	}
	return m.getSlow(name, false)
}

// getSlow is Get (create) or Lookup for a name missing from the published
// map.
func (m *Map[T]) getSlow(name string, create bool) *T {
	m.mu.Lock()
	defer m.mu.Unlock()

	published := 0
	if r := m.read.Load(); r != nil {
		if v, ok := (*r)[name]; ok {
			return v
		}
		published = len(*r)
	}

	v, ok := m.all[name]
	if !ok && !create {
		return nil
	}
	if !ok {
		if m.all == nil {
			m.all = make(map[string]*T)
		}
		if m.Create != nil {
			v = m.Create(name)
		} else {
			v = new(T)
		}
		m.all[name] = v
	}

	m.misses++
	if m.misses >= published {
		snapshot := maps.Clone(m.all)
		m.read.Store(&snapshot)
		m.misses = 0
	}
	return v
}
