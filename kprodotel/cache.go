package kprodotel

import (
	"sync"
	"sync/atomic"
)

// maxCached bounds each cache. A producer sends to a few topics and talks to
// a few brokers, but a program that builds topic names from its input must
// not make the caches grow without end: past the bound, values are made
// again on each use (slower, still right).
const maxCached = 1024

// cache keeps values made once per key (per topic, per broker and API).
// Safe for concurrent use.
type cache[K comparable, V any] struct {
	m sync.Map
	n atomic.Int32 // entries in m
}

func (c *cache[K, V]) load(k K) (V, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

// store keeps v for k unless the cache is full or another goroutine stored
// one first, and returns the value to use.
func (c *cache[K, V]) store(k K, v V) V {
	if c.n.Load() >= maxCached {
		return v
	}
	if prev, loaded := c.m.LoadOrStore(k, v); loaded {
		return prev.(V)
	}
	c.n.Add(1)
	return v
}
