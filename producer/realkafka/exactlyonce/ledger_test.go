package exactlyonce_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// ledger keeps every record a test sent and every answer the producer gave,
// and audits them against the log as an independent reader found it.
// Records are told apart by their value, "<id>|<padding>".
type ledger struct {
	topic string

	mu      sync.Mutex
	sent    []*sent // in send order
	byID    map[string]*sent
	pending sync.WaitGroup // one per record until its first answer
}

// sent is one record sent and what became of it.
type sent struct {
	id         string
	partition  int32              // pinned
	seq        int                // send order over the whole ledger
	by         *producer.Producer // order is kept per producer and partition
	sentAt     time.Time
	answers    int
	answeredAt time.Time
	md         producer.RecordMetadata
	err        error
}

func newLedger(topic string) *ledger {
	return &ledger{topic: topic, byID: map[string]*sent{}}
}

// send sends one record with value id|padding (pad bytes) to partition, and
// books its answer.
func (l *ledger) send(ctx context.Context, p *producer.Producer, partition int32, id string, pad int) {
	value := make([]byte, 0, len(id)+1+pad)
	value = append(value, id...)
	value = append(value, '|')
	for i := range pad {
		value = append(value, 'a'+byte(i%26))
	}
	s := &sent{id: id, partition: partition, sentAt: time.Now(), by: p}
	l.mu.Lock()
	s.seq = len(l.sent)
	l.sent = append(l.sent, s)
	l.byID[id] = s
	l.mu.Unlock()
	l.pending.Add(1)
	p.Send(ctx, &producer.Record{Topic: l.topic, Partition: partition, PinPartition: true, Value: value},
		func(md producer.RecordMetadata, err error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			s.answers++
			if s.answers == 1 {
				s.md, s.err, s.answeredAt = md, err, time.Now()
				l.pending.Done()
			}
		})
}

// wait waits until every record was answered, then a moment for a second
// answer to show, and fails the test unless each was answered exactly once.
func (l *ledger) wait(t *testing.T, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { l.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		l.mu.Lock()
		n := 0
		for _, s := range l.sent {
			if s.answers == 0 {
				n++
			}
		}
		l.mu.Unlock()
		t.Fatalf("%s: %d of %d records not answered within %v", l.topic, n, len(l.sent), d)
	}
	time.Sleep(100 * time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.sent {
		if s.answers != 1 {
			t.Errorf("%s: record %s answered %d times", l.topic, s.id, s.answers)
		}
	}
}

// answered returns the records whose answer matches keep.
func (l *ledger) answered(keep func(*sent) bool) []*sent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*sent
	for _, s := range l.sent {
		if s.answers > 0 && keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// audit is what the log holds compared with what was sent and answered.
type audit struct {
	sent, acked, failed int
	inLog               int      // distinct records of ours in the log
	lost                []string // acknowledged, not in the log
	misplaced           []string // acknowledged at a partition or offset where the log has another record
	duplicates          []string // in the log more than once
	outOfOrder          []string // in the log before a record the same producer sent earlier to the same partition
	failedInLog         []string // answered with an error, yet in the log
	foreign             int      // records in the topic that are none of ours
}

func (a audit) String() string {
	return fmt.Sprintf("%d sent, %d acknowledged, %d failed; %d in the log; lost %d%s, misplaced %d%s, duplicated %d%s, out of order %d%s, failed yet written %d%s, foreign %d",
		a.sent, a.acked, a.failed, a.inLog, len(a.lost), some(a.lost), len(a.misplaced), some(a.misplaced),
		len(a.duplicates), some(a.duplicates), len(a.outOfOrder), some(a.outOfOrder), len(a.failedInLog), some(a.failedInLog), a.foreign)
}

func some(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return " (" + strings.Join(ids[:min(len(ids), 5)], " ") + ")"
}

// clean reports whether the log is exactly what the answers say: nothing
// acknowledged missing or elsewhere, nothing twice, send order kept per
// partition, no failed record written, nothing foreign.
func (a audit) clean() bool {
	return len(a.lost)+len(a.misplaced)+len(a.duplicates)+len(a.outOfOrder)+len(a.failedInLog)+a.foreign == 0
}

// audit compares the records a reader found in the topic (every partition
// from its start) with the ledger.
func (l *ledger) audit(recs []*kgo.Record) audit {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := audit{sent: len(l.sent)}
	type where struct {
		partition int32
		offset    int64
	}
	found := map[string][]where{}
	at := map[where]string{}
	type stream struct {
		by        *producer.Producer
		partition int32
	}
	lastSeq := map[stream]int{} // the send order of the last record read of each producer and partition
	for _, r := range recs {
		id, _, _ := strings.Cut(string(r.Value), "|")
		s, ok := l.byID[id]
		if !ok {
			a.foreign++
			continue
		}
		w := where{r.Partition, r.Offset}
		at[w] = id
		found[id] = append(found[id], w)
		if len(found[id]) > 1 {
			a.duplicates = append(a.duplicates, id)
			continue
		}
		st := stream{s.by, r.Partition}
		if last, ok := lastSeq[st]; ok && s.seq < last {
			a.outOfOrder = append(a.outOfOrder, id)
		}
		lastSeq[st] = max(lastSeq[st], s.seq)
	}
	a.inLog = len(found)
	for _, s := range l.sent {
		if s.answers == 0 {
			continue
		}
		if s.err != nil {
			a.failed++
			if len(found[s.id]) > 0 {
				a.failedInLog = append(a.failedInLog, s.id)
			}
			continue
		}
		a.acked++
		if len(found[s.id]) == 0 {
			a.lost = append(a.lost, s.id)
			continue
		}
		if at[where{s.md.Partition, s.md.Offset}] != s.id {
			a.misplaced = append(a.misplaced, fmt.Sprintf("%s@%d/%d", s.id, s.md.Partition, s.md.Offset))
		}
	}
	return a
}

// readAll reads every record of topic up to the high watermarks with kgo
// (read_uncommitted: the topics audited here are not transactional).
func readAll(t *testing.T, k kafkatest.Cluster, topic string, partitions int32) ([]*kgo.Record, []int64) {
	t.Helper()
	ends := kafkatest.EndOffsets(t, k.Addrs(), topic, partitions)
	var want int64
	for _, e := range ends {
		want += e
	}
	return kafkatest.ReadRecords(t, k.Addrs(), topic, int(want), kafkatest.ReadOptions{Timeout: time.Minute, Settle: time.Second}), ends
}

// checkBatches reads each partition's batch headers with raw Fetch
// requests and checks the sequence numbers the broker accepted follow on
// per producer id and epoch; it returns the producer sessions seen.
func checkBatches(t *testing.T, k kafkatest.Cluster, topic string, partitions int32) (batches int, sessions map[string]bool) {
	t.Helper()
	sessions = map[string]bool{}
	for p := range partitions {
		bs := kafkatest.Batches(t, k, topic, p)
		if msg := kafkatest.CheckSequences(bs); msg != "" {
			t.Errorf("%s/%d: %s", topic, p, msg)
		}
		for _, b := range bs {
			if !b.Control {
				sessions[fmt.Sprintf("%d/%d", b.ProducerID, b.ProducerEpoch)] = true
			}
		}
		batches += len(bs)
	}
	return batches, sessions
}
