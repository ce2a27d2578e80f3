package wire

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// pending is a request written (or about to be written) whose response has
// not been read yet.
type pending struct {
	corr     int32
	req      kmsg.Request
	resp     kmsg.Response // decoded into when set; else a new one
	done     func(kmsg.Response, error)
	deadline time.Time     // zero = no timeout
	timeout  time.Duration // what deadline was computed from, for errors
}

// pendingQueue is a FIFO ring of pending requests in correlation order. It
// grows by doubling and never shrinks, so steady pipelining does not
// allocate.
type pendingQueue struct {
	buf  []pending
	head int
	n    int
}

func (q *pendingQueue) len() int { return q.n }

func (q *pendingQueue) push(p pending) {
	if q.n == len(q.buf) {
		grown := make([]pending, max(8, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			grown[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = p
	q.n++
}

// peek returns the oldest entry; ok is false when empty.
func (q *pendingQueue) peek() (p *pending, ok bool) {
	if q.n == 0 {
		return nil, false
	}
	return &q.buf[q.head], true
}

// pop removes and returns the oldest entry; the queue must not be empty.
func (q *pendingQueue) pop() pending {
	p := q.buf[q.head]
	q.buf[q.head] = pending{} // drop references for the collector
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return p
}

// earliestDeadline returns the soonest non-zero deadline and the
// correlation id it belongs to; ok is false when no entry has one.
func (q *pendingQueue) earliestDeadline() (deadline time.Time, corr int32, ok bool) {
	for i := 0; i < q.n; i++ {
		p := &q.buf[(q.head+i)%len(q.buf)]
		if p.deadline.IsZero() {
			continue
		}
		if !ok || p.deadline.Before(deadline) {
			deadline, corr, ok = p.deadline, p.corr, true
		}
	}
	return deadline, corr, ok
}

// find returns the entry with correlation id corr, or nil.
func (q *pendingQueue) find(corr int32) *pending {
	for i := 0; i < q.n; i++ {
		if p := &q.buf[(q.head+i)%len(q.buf)]; p.corr == corr {
			return p
		}
	}
	return nil
}

// drain removes every entry, oldest first, appending them to dst.
func (q *pendingQueue) drain(dst []pending) []pending {
	for q.n > 0 {
		dst = append(dst, q.pop())
	}
	return dst
}
