package exactlyonce_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// stream sends records to every partition of a ledger's topic in turn, at
// a steady pace, until stopped.
type stream struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	n    int
}

func startStream(ctx context.Context, p *producer.Producer, l *ledger, partitions int32, pace time.Duration) *stream {
	s := &stream{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			l.send(ctx, p, int32(i)%partitions, fmt.Sprintf("r%06d", i), 100)
			s.mu.Lock()
			s.n++
			s.mu.Unlock()
			time.Sleep(pace)
		}
	}()
	return s
}

// halt stops the stream and returns how many records it sent.
func (s *stream) halt() int {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// writer is one producer streaming into one topic, and its ledger.
type writer struct {
	name string
	p    *producer.Producer
	l    *ledger
	s    *stream

	partition int32         // its partition the victim led
	newLeader int32         // who led that partition after the kill
	resumed   time.Duration // kill → the first acknowledgement there of a record sent after the kill
	sent      int
}

// killLeaderMidStream has each writer stream records into its topic
// (partitions partitions, replicated on the three brokers), kills with
// SIGKILL a broker that leads a partition of every topic (not the
// controller's node), keeps streaming while the cluster moves the
// leaderships and while the victim starts again, then stops, flushes and
// waits for every answer and for the victim to be back in every ISR. It
// returns the victim.
func killLeaderMidStream(t *testing.T, k *kafkatest.Kafka, partitions int32, ws ...*writer) int32 {
	t.Helper()
	victim := int32(-1)
	for _, ps := range kafkatest.Partitions(t, k, ws[0].l.topic) {
		if ps.Leader != controller {
			victim = ps.Leader
			break
		}
	}
	for _, w := range ws {
		w.partition = -1
		for _, ps := range kafkatest.Partitions(t, k, w.l.topic) {
			if ps.Leader == victim && victim >= 0 {
				w.partition = ps.Partition
			}
		}
		if w.partition < 0 {
			t.Fatalf("no broker but the controller (node %d) leads a partition of every topic; %s: %+v", controller, w.l.topic, kafkatest.Partitions(t, k, w.l.topic))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, w := range ws {
		w.s = startStream(ctx, w.p, w.l, partitions, time.Millisecond)
	}
	time.Sleep(2 * time.Second)

	killed := time.Now()
	k.KillBroker(t, victim)
	for _, w := range ws {
		t.Logf("%s: killed broker %d, leader of %s/%d, with %d records answered", w.name, victim, w.l.topic, w.partition,
			len(w.l.answered(func(*sent) bool { return true })))
	}

	// Wait until every writer's partition takes writes again.
	for _, w := range ws {
		for w.resumed == 0 {
			if time.Since(killed) > time.Minute {
				t.Fatalf("%s: %s/%d: nothing sent after the kill was acknowledged within a minute", w.name, w.l.topic, w.partition)
			}
			time.Sleep(50 * time.Millisecond)
			for _, r := range w.l.answered(func(r *sent) bool {
				return r.partition == w.partition && r.err == nil && r.sentAt.After(killed)
			}) {
				w.resumed = r.answeredAt.Sub(killed)
				break
			}
		}
		w.newLeader = kafkatest.Leader(t, k, w.l.topic, w.partition)
	}

	k.RestartBroker(t, victim)
	restarted := time.Since(killed)
	time.Sleep(2 * time.Second) // write while the victim catches up
	for _, w := range ws {
		w.sent = w.s.halt()
	}
	for _, w := range ws {
		if err := w.p.Flush(ctx); err != nil {
			t.Errorf("%s: flush: %v", w.name, err)
		}
		w.l.wait(t, 2*time.Minute)
		k.WaitInSync(t, w.l.topic, partitions, 3)
		t.Logf("%s: sent %d records; partition %d took writes again %v after the kill, led by broker %d",
			w.name, w.sent, w.partition, w.resumed.Round(time.Millisecond), w.newLeader)
	}
	t.Logf("broker %d served again %v after the kill", victim, restarted.Round(time.Millisecond))
	return victim
}

// TestLeaderKilled streams records into two topics of three replicas with
// min.insync.replicas=2, and kills with SIGKILL a broker that leads a
// partition of both while they are written (and starts it again):
//
//   - acks=all with idempotence (the defaults) loses nothing: every record
//     is answered once and without error, and the log holds each one exactly
//     once, at its acknowledged offset, in send order per partition; the
//     batches' sequence numbers, as the brokers stored them, follow on per
//     producer id and epoch, and the batches in flight at the kill were
//     retried.
//   - acks=1 (so no idempotence) on a topic with
//     unclean.leader.election.enable=true: a leader answers before its
//     followers have the records, so acknowledged records can be lost when
//     it dies. The test counts and reports them; it still requires every
//     record answered exactly once and nothing foreign in the log.
func TestLeaderKilled(t *testing.T) {
	k := three(t)
	const partitions = 3
	all := &writer{name: "acks=all", l: newLedger(kafkatest.TopicName(t))}
	k.CreateTopic(t, all.l.topic, partitions, 3, map[string]string{"min.insync.replicas": "2"})
	all.p = newProducer(t, k, producer.WithLinger(5*time.Millisecond))
	one := &writer{name: "acks=1", l: newLedger(kafkatest.TopicName(t))}
	k.CreateTopic(t, one.l.topic, partitions, 3, map[string]string{"min.insync.replicas": "2", "unclean.leader.election.enable": "true"})
	one.p = newProducer(t, k, producer.WithAcks(producer.AcksLeader), producer.WithIdempotence(false), producer.WithLinger(5*time.Millisecond))

	victim := killLeaderMidStream(t, k, partitions, all, one)

	// acks=all: exact.
	recs, ends := readAll(t, k, all.l.topic, partitions)
	a := all.l.audit(recs)
	m := all.p.Metrics()
	t.Logf("acks=all: %v", a)
	t.Logf("acks=all producer: %d records retried, %d producer id/epoch resets, send→ack p99 %v, max %v",
		m.RecordsRetried, m.ProducerIDResets, m.SendLatencyP99.Round(time.Millisecond), m.SendLatencyMax.Round(time.Millisecond))
	if !a.clean() || a.failed > 0 || a.acked != a.sent {
		t.Errorf("acks=all: the log is not what the producer answered: %v", a)
	}
	perPartition := make([]int64, partitions)
	for _, s := range all.l.answered(func(s *sent) bool { return s.err == nil }) {
		perPartition[s.partition]++
	}
	for i := range ends {
		if ends[i] != perPartition[i] {
			t.Errorf("acks=all: partition %d ends at offset %d, %d records were acknowledged on it", i, ends[i], perPartition[i])
		}
	}
	batches, sessions := checkBatches(t, k, all.l.topic, partitions)
	t.Logf("acks=all: %d batches in the log, from producer id/epoch %v", batches, keys(sessions))
	if m.RecordsRetried == 0 {
		t.Errorf("acks=all: no record was retried: the kill of broker %d did not hit the stream", victim)
	}

	// acks=1: counted.
	recs, _ = readAll(t, k, one.l.topic, partitions)
	b := one.l.audit(recs)
	t.Logf("acks=1: %v", b)
	t.Logf("acks=1: %d acknowledged records lost when broker %d died (%d records retried)", len(b.lost), victim, one.p.Metrics().RecordsRetried)
	if b.acked+b.failed != b.sent {
		t.Errorf("acks=1: not every record answered: %v", b)
	}
	if b.foreign > 0 {
		t.Errorf("acks=1: %d records in the topic that were never sent", b.foreign)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestLostProduceResponses: the brokers write every batch, but every 7th
// Produce answer is lost with its connection (kafkatest.LossyDialer), as
// after a network fault. The idempotent producer cannot know whether those
// batches were written and resends them under their sequence numbers; the
// brokers recognise them and answer with the offsets they were written at.
// Every record is answered once without error, at the offset where it is,
// and is in the log once, in send order; the sequences are contiguous.
func TestLostProduceResponses(t *testing.T) {
	k := three(t)
	const partitions, n = 3, 20000
	topic := kafkatest.TopicName(t)
	k.CreateTopic(t, topic, partitions, 3, map[string]string{"min.insync.replicas": "2"})
	lossy := &kafkatest.LossyDialer{Key: int16(kmsg.Produce), Every: 7}
	p := newProducer(t, k, producer.WithDialer(lossy.Dial), producer.WithLinger(2*time.Millisecond),
		producer.WithBatchSize(4096), producer.WithReconnectBackoff(10*time.Millisecond, 100*time.Millisecond))
	l := newLedger(topic)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := range n {
		l.send(ctx, p, int32(i%partitions), fmt.Sprintf("r%06d", i), 100)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	l.wait(t, time.Minute)
	recs, ends := readAll(t, k, topic, partitions)
	a := l.audit(recs)
	m := p.Metrics()
	t.Logf("%d Produce answers lost; %v", lossy.Dropped(), a)
	t.Logf("producer: %d produce requests, %d records retried, %d producer id/epoch resets", m.RequestsSent, m.RecordsRetried, m.ProducerIDResets)
	if !a.clean() || a.failed > 0 || a.acked != n {
		t.Errorf("the log is not what the producer answered: %v", a)
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != n {
		t.Errorf("the partitions end at %v: %d offsets for %d records", ends, total, n)
	}
	batches, sessions := checkBatches(t, k, topic, partitions)
	t.Logf("%d batches in the log, from producer id/epoch %v", batches, keys(sessions))
	if lossy.Dropped() == 0 || m.RecordsRetried == 0 {
		t.Errorf("no answer lost (%d) or no record retried (%d): the test did not test", lossy.Dropped(), m.RecordsRetried)
	}
}
