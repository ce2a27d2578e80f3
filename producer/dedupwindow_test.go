package producer

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// seqFault fails the first produce batch whose base sequence reaches from,
// and every resend of that same batch up to times in all, with err; it
// reports the sequence it picked.
type seqFault struct {
	mu     sync.Mutex
	from   int32
	target int32 // -1 until picked
	epoch  int16
}

func (f *seqFault) when(req kmsg.Request) bool {
	pr, ok := req.(*kmsg.ProduceRequest)
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range pr.Topics {
		for _, p := range t.Partitions {
			var rb kmsg.RecordBatch
			if rb.ReadFrom(p.Records) != nil {
				continue
			}
			if f.target < 0 && rb.FirstSequence >= f.from {
				f.target, f.epoch = rb.FirstSequence, rb.ProducerEpoch
				return true
			}
			if f.target >= 0 && rb.FirstSequence == f.target && rb.ProducerEpoch == f.epoch {
				return true
			}
		}
	}
	return false
}

// TestRetryOfPossiblyWrittenBatchStaysInDedupWindow: a broker recognises a
// resent batch as a duplicate only while it is among the partition's last
// five batches of the producer. A batch answered with an error raised after
// the append (it is in the log) is resent; if that resend fails the same way
// while newer batches of the partition went out behind it, the next resend
// finds the batch pushed out of the window and is answered
// OUT_OF_ORDER_SEQUENCE_NUMBER. The producer must keep the batch's retries
// inside the window (nothing newer goes while a resend is unanswered, and no
// more than max.in.flight batches of a partition are unanswered by its own
// count), and must never take that answer as proof that the batch is absent:
// written twice, out of order, or answered with the second copy's offset are
// the failures this test catches.
func TestRetryOfPossiblyWrittenBatchStaysInDedupWindow(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut} {
		t.Run(code.Message, func(t *testing.T) {
			const topic, n = "window", 6000
			c := newCluster(t, kfake.SeedTopics(1, topic))
			sf := &seqFault{from: 400, target: -1}
			h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: code, Count: 3, When: sf.when})
			p := newTestProducer(t, c, WithLinger(0), WithBatchSize(256),
				WithRetryBackoff(time.Millisecond, 5*time.Millisecond), WithLogger(testLogger(t)))
			ctx := ctxTimeout(t, time.Minute)
			l := newLedger(t)
			for i := range n {
				p.Send(ctx, l.record(topic, i), l.callback(i))
			}
			l.wait(time.Minute)
			if h.Hits() < 2 {
				t.Fatalf("the batch and its resend were faulted %d times, want ≥ 2", h.Hits())
			}
			if f := l.failed(); f != 0 {
				t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
			}
			l.checkLog(consume(t, c, topic, n))
		})
	}
}
