package producer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// bufferPool bounds the memory of batches not yet answered (buffer.memory):
// every batch takes its buffer from here when it opens and gives it back when
// its records are answered, whether sent, retried or failed. Buffers come in
// a few sizes (multiples of batch.size) and are kept for reuse by size, so a
// steady stream allocates none; spare buffers are dropped to the GC when
// memory is needed for another size (their bytes count as available).
// Waiters are served first come, first served.
type bufferPool struct {
	total    int64
	poolable int // the largest size kept for reuse

	mu        sync.Mutex
	avail     int64            // bytes not lent out, spare buffers included; guarded by mu
	free      map[int][][]byte // spare buffers by size; guarded by mu
	freeBytes int64            // bytes held by spare buffers; guarded by mu
	waiters   []*poolWaiter
	// spareWaiters are waiters (with their channel and timer) kept for reuse.
	spareWaiters []*poolWaiter
	closed       bool

	nwaiting atomic.Int32 // len(waiters), read by the sender without the lock
}

type poolWaiter struct {
	size  int
	ready chan struct{} // capacity 1: signalled once the memory is granted or the pool closed
	buf   []byte        // the granted buffer; guarded by bufferPool.mu
	timer *time.Timer   // max.block; stopped while the waiter is spare
}

// newBufferPool bounds memory to total bytes and keeps spare buffers of up
// to poolable bytes.
func newBufferPool(total int64, poolable int) *bufferPool {
	return &bufferPool{total: total, avail: total, poolable: poolable, free: make(map[int][][]byte)}
}

// allocate lends a buffer with capacity of at least size. It waits until
// deadline (or ctx) for memory when block is true, and fails at once otherwise.
func (p *bufferPool) allocate(ctx context.Context, size int, deadline time.Time, block bool) ([]byte, error) {
	if int64(size) > p.total {
		return nil, ErrRecordTooLarge
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if len(p.waiters) == 0 && p.avail >= int64(size) {
		// takeLocked may hand out a larger spare buffer; the caller accounts cap(buf).
		buf := p.takeLocked(size)
		p.mu.Unlock()
		return buf, nil
	}
	if !block {
		p.mu.Unlock()
		return nil, ErrBufferFull
	}
	w := p.waiterLocked(size)
	p.waiters = append(p.waiters, w)
	p.nwaiting.Store(int32(len(p.waiters)))
	p.mu.Unlock()

	w.timer.Reset(time.Until(deadline))
	why := ErrClosed
	select {
	case <-w.ready:
	case <-w.timer.C:
		why = ErrMaxBlock
	case <-ctx.Done():
		why = ctx.Err()
	}
	w.timer.Stop()

	p.mu.Lock()
	defer p.mu.Unlock()
	buf := w.buf
	if buf == nil {
		p.removeWaiterLocked(w)
	}
	p.spareWaiters = append(p.spareWaiters, w.reset())
	if buf != nil {
		return buf, nil // granted, possibly just as the wait ended
	}
	return nil, why
}

// waiterLocked takes a waiter from the free list: blocking sends under
// memory pressure then allocate nothing.
func (p *bufferPool) waiterLocked(size int) *poolWaiter {
	var w *poolWaiter
	if n := len(p.spareWaiters); n > 0 {
		w = p.spareWaiters[n-1]
		p.spareWaiters = p.spareWaiters[:n-1]
	} else {
		w = &poolWaiter{ready: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
		w.timer.Stop()
	}
	w.size = size
	return w
}

// reset readies a used waiter for the free list.
func (w *poolWaiter) reset() *poolWaiter {
	select {
	case <-w.ready: // a grant or close that raced the end of the wait
	default:
	}
	w.buf = nil
	return w
}

// takeLocked hands out a buffer of at least size bytes, counting its whole
// capacity as lent (the caller gives back cap(buf)). A spare buffer of the
// size is taken first, then a larger spare one (up to twice the size), so
// that a change of batch size reuses memory instead of dropping it.
func (p *bufferPool) takeLocked(size int) []byte {
	if buf := p.spareLocked(size); buf != nil {
		return buf
	}
	p.avail -= int64(size)
	// Drop spare buffers until the bytes they hold no longer stand in the
	// way of this one.
	for n, spare := range p.free {
		if p.avail >= p.freeBytes {
			break
		}
		for len(spare) > 0 && p.avail < p.freeBytes {
			spare[len(spare)-1] = nil // the slice's array must not keep it alive
			spare = spare[:len(spare)-1]
			p.freeBytes -= int64(n)
		}
		p.free[n] = spare
	}
	return make([]byte, 0, size)
}

// spareLocked takes a spare buffer of size to twice size bytes, or nil.
func (p *bufferPool) spareLocked(size int) []byte {
	best := 0
	for n, spare := range p.free {
		if len(spare) > 0 && n >= size && n <= 2*size && (best == 0 || n < best) && p.avail >= int64(n) {
			best = n
		}
	}
	if best == 0 {
		return nil
	}
	spare := p.free[best]
	buf := spare[len(spare)-1]
	spare[len(spare)-1] = nil
	p.free[best] = spare[:len(spare)-1]
	p.freeBytes -= int64(best)
	p.avail -= int64(best)
	return buf[:0]
}

// force lends size bytes without waiting, even past the bound: only for the
// parts of a split batch, whose own memory is given back right after.
func (p *bufferPool) force(size int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeLocked(size)
}

// release gives back the size bytes lent with buf (cap(buf) as handed out)
// and serves waiters.
func (p *bufferPool) release(buf []byte, size int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.avail += int64(size)
	if size <= p.poolable && cap(buf) == size && !p.closed {
		p.free[size] = append(p.free[size], buf[:0])
		p.freeBytes += int64(size)
	}
	p.serveLocked()
}

// serveLocked grants memory to waiters in arrival order while it lasts.
func (p *bufferPool) serveLocked() {
	for len(p.waiters) > 0 && !p.closed {
		w := p.waiters[0]
		if p.avail < int64(w.size) {
			return
		}
		w.buf = p.takeLocked(w.size)
		w.ready <- struct{}{}
		p.waiters = p.waiters[1:]
		p.nwaiting.Store(int32(len(p.waiters)))
	}
}

func (p *bufferPool) removeWaiterLocked(w *poolWaiter) {
	for i, o := range p.waiters {
		if o == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			break
		}
	}
	p.nwaiting.Store(int32(len(p.waiters)))
	p.serveLocked()
}

// waiting reports whether a Send is blocked on memory (batches should then go out at once).
func (p *bufferPool) waiting() bool { return p.nwaiting.Load() > 0 }

// inUse is the bytes lent out now.
func (p *bufferPool) inUse() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total - p.avail
}

// close wakes every waiter with ErrClosed.
func (p *bufferPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, w := range p.waiters {
		w.ready <- struct{}{}
	}
	p.waiters = nil
	p.nwaiting.Store(0)
	clear(p.free)
	p.freeBytes = 0
}
