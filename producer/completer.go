package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// completer runs callbacks and acknowledgement interceptors on a goroutine of
// its own, in the order batches were answered, so a slow callback never
// stalls the sender or a broker connection. After a batch's callbacks ran it
// counts the batch as finished for Flush and recycles it.
//
// A callback that panics is recovered: the panic is logged and counted, the
// record is not answered again, and the next call goes on. A Close that gave
// up waiting (its ctx ended) abandons the completer: no further callback
// starts, and the goroutine exits once the callback it is in returns.
type completer struct {
	acc          *accumulator
	interceptors []Interceptor
	hooks        *hookRunner
	log          *slog.Logger // nil: silent
	m            *metrics

	gid       atomic.Uint64 // id of the completer goroutine, set when it starts
	abandoned atomic.Bool   // Close stopped waiting: start no further callback

	mu      sync.Mutex
	queue   []*recBatch // guarded by mu
	spare   []*recBatch // the previous queue's array, reused; guarded by mu
	closed  bool        // guarded by mu
	signal  chan struct{}
	stopped chan struct{}
}

func newCompleter(acc *accumulator, interceptors []Interceptor, hooks *hookRunner, log *slog.Logger, m *metrics) *completer {
	c := &completer{acc: acc, interceptors: interceptors, hooks: hooks, log: log, m: m,
		signal: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.run()
	return c
}

// needed reports whether rb has anything to run; if not, the sender finishes
// it at once.
func (c *completer) needed(rb *recBatch) bool {
	return rb.hasCB || len(c.interceptors) > 0 || len(rb.hooked) > 0
}

func (c *completer) push(rb *recBatch) {
	c.mu.Lock()
	c.queue = append(c.queue, rb)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *completer) run() {
	c.gid.Store(goid())
	defer close(c.stopped)
	for {
		c.mu.Lock()
		work := c.queue
		c.queue = c.spare[:0]
		closed := c.closed
		c.mu.Unlock()
		for i, rb := range work {
			c.answer(rb)
			work[i] = nil
		}
		c.mu.Lock()
		c.spare = work[:0]
		empty := len(c.queue) == 0
		c.mu.Unlock()
		if closed && empty && len(work) == 0 {
			return
		}
		if empty {
			<-c.signal
		}
	}
}

// onGoroutine reports whether the caller runs on the completer goroutine,
// that is, inside a callback or an acknowledgement interceptor.
func (c *completer) onGoroutine() bool {
	id := c.gid.Load()
	return id != 0 && id == goid()
}

// answer calls every record's ack hooks, interceptors and callback with its outcome.
// A panic in one of them skips only that call.
func (c *completer) answer(rb *recBatch) {
	i, step := 0, 0
	for i < len(rb.recs) {
		i, step = c.answerFrom(rb, i, step)
	}
	c.acc.flushes.done(rb.gen)
	c.acc.recycle(rb)
}

// answerFrom makes the calls of rb's records from record i, call step on
// (the ack hooks first when the record has them, then the interceptors,
// then the callback).
// It returns len(rb.recs) when done; after a recovered panic it returns the
// position just past the call that panicked, so the caller resumes there
// and no call is made twice.
func (c *completer) answerFrom(rb *recBatch, i, step int) (ni, nstep int) {
	ni, nstep = i, step
	defer func() {
		if v := recover(); v != nil {
			c.recovered(v, rb, ni, nstep)
		}
	}()
	nacks := 0
	if len(rb.hooked) > 0 {
		nacks = len(c.hooks.ack)
	}
	nics := nacks + len(c.interceptors) // calls before the callback
	for ; ni < len(rb.recs); ni, nstep = ni+1, 0 {
		r := &rb.recs[ni]
		if r.cb == nil && nics == 0 {
			continue
		}
		if c.abandoned.Load() {
			if r.cb != nil && nstep <= nics {
				c.m.callbacksSkipped.Add(1)
			}
			continue
		}
		md, err := rb.res.metadata(int32(ni), rb.recTS(ni))
		for nstep < nacks {
			h := rb.hooked[ni]
			ah := c.hooks.ack[nstep]
			nstep++ // past this call before it is made: a panic resumes after it
			ah.OnAck(h.ctx, Ack{Record: h.rec, Metadata: md, Err: err,
				Latency: time.Duration(rb.answeredAt - rb.recAt(ni)), Size: h.size})
		}
		for nstep < nics {
			ic := c.interceptors[nstep-nacks]
			nstep++
			ic.OnAcknowledgement(md, err)
		}
		if nstep == nics {
			nstep++
			if r.cb != nil {
				r.cb(md, err)
			}
		}
	}
	return ni, nstep
}

// recovered logs and counts a panic of a callback or interceptor; step is
// the position just past the call that panicked.
func (c *completer) recovered(v any, rb *recBatch, idx, step int) {
	c.m.callbackPanics.Add(1)
	if c.log == nil {
		return
	}
	what := "callback"
	nacks := 0
	if len(rb.hooked) > 0 {
		nacks = len(c.hooks.ack)
	}
	switch {
	case step <= nacks:
		what = fmt.Sprintf("hook %T (OnAck)", c.hooks.ack[step-1])
	case step <= nacks+len(c.interceptors):
		what = fmt.Sprintf("interceptor %d (OnAcknowledgement)", step-nacks-1)
	}
	c.log.Error("kprod: recovered a panic in a "+what+"; the record is not answered again and the producer carries on",
		"panic", fmt.Sprint(v), "topic", rb.res.topic, "partition", rb.res.partition, "record", idx,
		"stack", string(debug.Stack()))
}

// closeCallbackGrace is how long Close still waits for callbacks once its
// ctx ended: enough for the quick callbacks of the records Close itself
// failed, too short to matter to a caller that set a deadline.
const closeCallbackGrace = 100 * time.Millisecond

// errCallbacksAbandoned is what Close reports, with ctx's error, when it
// stopped waiting for callbacks.
var errCallbacksAbandoned = errors.New("producer: Close stopped waiting for callbacks; those not started will not run")

// close lets the goroutine end once the queue is drained and waits for it,
// until ctx ends and closeCallbackGrace more passed. Then it abandons the
// goroutine: callbacks not started are skipped (their Futures hold the
// outcome), and the goroutine exits once the callback it is in returns.
func (c *completer) close(ctx context.Context) error {
	c.closeNoWait()
	select {
	case <-c.stopped:
		return nil
	case <-ctx.Done():
	}
	grace := time.NewTimer(closeCallbackGrace)
	defer grace.Stop()
	select {
	case <-c.stopped:
		return nil
	case <-grace.C:
	}
	c.abandoned.Store(true)
	if c.log != nil {
		c.log.Warn("kprod: Close returns while a callback is still running; callbacks not started are skipped",
			"err", ctx.Err())
	}
	return fmt.Errorf("%w: %w", errCallbacksAbandoned, ctx.Err())
}

// closeNoWait lets the goroutine end once the queue is drained, without
// waiting for it (Close called from a callback).
func (c *completer) closeNoWait() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// goid returns the id of the calling goroutine, read from the header line
// of its stack trace ("goroutine 123 [running]:"). Go has no other way to
// tell goroutines apart; it is only called when the completer starts and on
// Close, never per record.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	const prefix = "goroutine "
	var id uint64
	for i := len(prefix); i < n; i++ {
		ch := buf[i]
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + uint64(ch-'0')
	}
	return id
}
