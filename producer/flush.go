package producer

import (
	"context"
	"sync"
)

// flushGens counts the batches not yet done (answered, callbacks run) by
// flush generation, so Flush can wait for the records sent before it and
// not for those sent after. Every batch belongs to the generation that was
// current when it opened; Flush starts a new generation and waits for the
// older ones to empty. Safe from any goroutine.
type flushGens struct {
	mu         sync.Mutex
	gen        uint64         // the current generation; guarded by mu
	unfinished map[uint64]int // batches not yet done, by generation; guarded by mu
	changed    chan struct{}  // closed and replaced when unfinished shrinks while someone waits; guarded by mu
	waiters    int            // Flush calls waiting on changed; guarded by mu
}

func newFlushGens() *flushGens {
	return &flushGens{unfinished: make(map[uint64]int), changed: make(chan struct{})}
}

// join counts a new batch in the current generation and returns it.
func (f *flushGens) join() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unfinished[f.gen]++
	return f.gen
}

// add counts one more batch of generation gen (a part of a split batch).
func (f *flushGens) add(gen uint64) {
	f.mu.Lock()
	f.unfinished[gen]++
	f.mu.Unlock()
}

// done records that a batch of generation gen was answered and its callbacks ran.
func (f *flushGens) done(gen uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unfinished[gen]--; f.unfinished[gen] <= 0 {
		delete(f.unfinished, gen)
	}
	if f.waiters > 0 {
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

// begin starts a new generation and returns the one to wait for.
func (f *flushGens) begin() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.gen
	f.gen++
	return g
}

// wait waits until every batch of generation gen or older is done.
func (f *flushGens) wait(ctx context.Context, gen uint64) error {
	f.mu.Lock()
	f.waiters++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.waiters--
		f.mu.Unlock()
	}()
	for {
		f.mu.Lock()
		pending := false
		for g := range f.unfinished {
			if g <= gen {
				pending = true
				break
			}
		}
		ch := f.changed
		f.mu.Unlock()
		if !pending {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
