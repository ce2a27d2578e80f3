package producer

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kprod/kprod/internal/batch"
)

func TestBufferPoolBlocksUntilMaxBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newBufferPool(100, 50)
		a, err := p.allocate(context.Background(), 50, time.Now().Add(time.Second), true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.allocate(context.Background(), 50, time.Now().Add(time.Second), true); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = p.allocate(context.Background(), 50, start.Add(time.Second), true)
		if !errors.Is(err, ErrMaxBlock) {
			t.Fatalf("got %v, want ErrMaxBlock", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("waited %v, want exactly max.block (1s)", d)
		}
		if _, err := p.allocate(context.Background(), 10, time.Now().Add(time.Second), false); !errors.Is(err, ErrBufferFull) {
			t.Fatalf("non-blocking: %v", err)
		}
		// A release wakes a waiter at once, first come first served.
		got := make(chan error, 2)
		go func() {
			_, err := p.allocate(context.Background(), 50, time.Now().Add(time.Hour), true)
			got <- err
		}()
		synctest.Wait()
		go func() {
			_, err := p.allocate(context.Background(), 10, time.Now().Add(time.Hour), true)
			got <- err
		}()
		synctest.Wait()
		p.release(a, 50)
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("second waiter served without memory: %v", err)
		default:
		}
		if p.inUse() != 100 {
			t.Fatalf("in use %d, want 100", p.inUse())
		}
		p.close()
		if err := <-got; !errors.Is(err, ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
	})
}

func TestBufferPoolContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newBufferPool(10, 10)
		if _, err := p.allocate(context.Background(), 10, time.Now().Add(time.Hour), true); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		if _, err := p.allocate(ctx, 5, time.Now().Add(time.Hour), true); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if p.waiting() {
			t.Fatal("a cancelled waiter is still queued")
		}
	})
}

func TestBufferPoolReusesBatchSizedBuffers(t *testing.T) {
	p := newBufferPool(1000, 100)
	a, _ := p.allocate(context.Background(), 100, time.Now(), false)
	p.release(a[:0], 100)
	b, _ := p.allocate(context.Background(), 100, time.Now(), false)
	if cap(a) != cap(b) || &a[:1][0] != &b[:1][0] {
		t.Fatal("a batch.size buffer was not reused")
	}
	big, err := p.allocate(context.Background(), 900, time.Now(), false)
	if err != nil || cap(big) < 900 {
		t.Fatalf("big buffer: %v", err)
	}
	if _, err := p.allocate(context.Background(), 1, time.Now(), false); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("over the bound: %v", err)
	}
	if _, err := p.allocate(context.Background(), 2000, time.Now(), true); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("larger than the pool: %v", err)
	}
}

// TestBufferPoolForgetsDroppedSpares: spare buffers dropped to make room for
// another size, or handed out again, are gone from the free lists' arrays
// too, so the collector can take the dropped ones (a kept reference held
// twice buffer.memory alive under zstd, whose batch sizes drift).
func TestBufferPoolForgetsDroppedSpares(t *testing.T) {
	const size = 16 << 10
	p := newBufferPool(4*size, 4*size)
	ctx, deadline := context.Background(), time.Now().Add(time.Second)
	var bufs [][]byte
	for range 4 {
		b, err := p.allocate(ctx, size, deadline, false)
		if err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, b)
	}
	for _, b := range bufs {
		p.release(b, cap(b))
	}
	if _, err := p.allocate(ctx, size, deadline, false); err != nil { // taken from the spares
		t.Fatal(err)
	}
	if _, err := p.allocate(ctx, 2*size+1, deadline, false); err != nil { // a new size: spares are dropped
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for n, spare := range p.free {
		for i, b := range spare[len(spare):cap(spare)] {
			if b != nil {
				t.Fatalf("free list of %d-byte buffers still holds a buffer past its end (slot %d)", n, len(spare)+i)
			}
		}
	}
	if p.freeBytes > p.avail {
		t.Fatalf("%d spare bytes but only %d available", p.freeBytes, p.avail)
	}
}

// TestBufferClass: compressed batches take buffers of batch.size times a
// power of two, so the drifting compression estimate reuses few sizes;
// uncompressed ones and buffers beyond what the pool keeps are exact.
func TestBufferClass(t *testing.T) {
	const bs = 16 << 10
	comp, err := batch.NewCompressor(batch.Zstd, batch.DefaultLevel)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config{batchSize: bs, bufferMemory: 32 << 20}
	pool := newBufferPool(32<<20, 64*bs)
	zstd := newAccumulator(cfg, pool, comp, nil, func() {})
	plain := newAccumulator(cfg, pool, nil, nil, func() {})
	for _, tc := range []struct{ n, zstd, plain int }{
		{1, bs, 1},
		{bs, bs, bs},
		{bs + 1, 2 * bs, bs + 1},
		{5 * bs / 2, 4 * bs, 5 * bs / 2},
		{64 * bs, 64 * bs, 64 * bs},
		{64*bs + 1, 64*bs + 1, 64*bs + 1},
	} {
		if got := zstd.bufferClass(tc.n); got != tc.zstd {
			t.Errorf("compressed: class of %d = %d, want %d", tc.n, got, tc.zstd)
		}
		if got := plain.bufferClass(tc.n); got != tc.plain {
			t.Errorf("uncompressed: class of %d = %d, want %d", tc.n, got, tc.plain)
		}
	}
}
