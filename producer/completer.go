package producer

import "sync"

// completer runs callbacks and acknowledgement interceptors on a goroutine of
// its own, in the order batches were answered, so a slow callback never
// stalls the sender or a broker connection. After a batch's callbacks ran it
// counts the batch as finished for Flush and recycles it.
type completer struct {
	acc          *accumulator
	interceptors []Interceptor

	mu      sync.Mutex
	queue   []*recBatch // guarded by mu
	spare   []*recBatch // the previous queue's array, reused; guarded by mu
	closed  bool        // guarded by mu
	signal  chan struct{}
	stopped chan struct{}
}

func newCompleter(acc *accumulator, interceptors []Interceptor) *completer {
	c := &completer{acc: acc, interceptors: interceptors, signal: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.run()
	return c
}

// needed reports whether rb has anything to run; if not, the sender finishes
// it at once.
func (c *completer) needed(rb *recBatch) bool { return rb.hasCB || len(c.interceptors) > 0 }

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

// answer calls every record's interceptors and callback with its outcome.
func (c *completer) answer(rb *recBatch) {
	for i := range rb.recs {
		r := &rb.recs[i]
		if r.cb == nil && len(c.interceptors) == 0 {
			continue
		}
		md, err := rb.res.metadata(int32(i), rb.recTS(i))
		for _, ic := range c.interceptors {
			ic.OnAcknowledgement(md, err)
		}
		if r.cb != nil {
			r.cb(md, err)
		}
	}
	c.acc.finished(rb.gen)
	c.acc.recycle(rb)
}

// close lets the goroutine end once the queue is drained, and waits for it.
func (c *completer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
	<-c.stopped
}
