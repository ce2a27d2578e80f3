package producer

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/internal/brokerproc"
)

// TestBrokerProcess is the broker side of the restart tests: it runs only in
// the child process brokerproc.Start re-executes this test binary as.
func TestBrokerProcess(t *testing.T) {
	if !brokerproc.IsChild() {
		t.Skip("runs only as the child of brokerproc.Start")
	}
	if err := brokerproc.Serve(); err != nil {
		t.Fatal(err)
	}
}

// startBrokers starts a cluster in a child process and kills it when the
// test ends.
func startBrokers(t *testing.T, spec brokerproc.Spec) *brokerproc.Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bp, err := brokerproc.Start(ctx, "TestBrokerProcess", spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bp.Kill() })
	return bp
}

// startRestartable starts a cluster of brokers in a child process with its
// data in a directory of the test, holding topic, and returns the spec that
// starts it again on the same ports with the same data (after Stop or Kill).
func startRestartable(t *testing.T, brokers int, topic string, partitions int32) (*brokerproc.Proc, brokerproc.Spec) {
	t.Helper()
	spec := brokerproc.Spec{Brokers: brokers, DataDir: t.TempDir(), Topics: []string{topic}, Partitions: partitions}
	bp := startBrokers(t, spec)
	spec.Ports = bp.Ports()
	return bp, spec
}

// answered is how many records of l have their answer.
func (l *ledger) answered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.answers)
}

// waitAnswered waits until n records of l are answered.
func waitAnswered(t *testing.T, l *ledger, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for l.answered() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records answered after %v", l.answered(), n, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBrokerRestartMidStream streams records at a cluster running in a
// child process and takes it down twice mid-stream — a clean shutdown
// (SIGTERM) or a crash (SIGKILL) — bringing it back on the same ports with
// the same data each time. With acks=all and idempotence every record is
// acknowledged once and is in the log once, in order.
func TestBrokerRestartMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes: skipped with -short")
	}
	for _, tc := range []struct {
		name string
		down func(*brokerproc.Proc) error
	}{
		{"sigterm", func(bp *brokerproc.Proc) error { return bp.Stop(context.Background()) }},
		{"sigkill", (*brokerproc.Proc).Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := brokerproc.Spec{Brokers: 3, DataDir: t.TempDir(), Topics: []string{"restart"}, Partitions: 3}
			bp := startBrokers(t, spec)
			spec.Ports = bp.Ports()
			p, err := New(WithBrokers(bp.Addrs()...), WithAcks(AcksAll), WithIdempotence(true),
				WithLinger(2*time.Millisecond), WithRetryBackoff(10*time.Millisecond, 200*time.Millisecond),
				WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond), WithRequestTimeout(3*time.Second),
				WithDeliveryTimeout(2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			ctx := ctxTimeout(t, 3*time.Minute)
			l := newLedger(t)
			const n = 30_000
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				pace := time.NewTicker(10 * time.Millisecond)
				defer pace.Stop()
				for i := range n {
					if i%100 == 0 {
						<-pace.C
					}
					rec := l.record("restart", i)
					rec.Partition, rec.PinPartition = int32(i%3), true
					p.Send(ctx, rec, l.callback(i))
				}
			}()
			for round, at := range []int{n / 3, 2 * n / 3} {
				waitAnswered(t, l, at, time.Minute)
				pid := bp.Pid()
				if err := tc.down(bp); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond) // the producer finds the brokers gone
				bp = startBrokers(t, spec)
				t.Logf("round %d: pid %d down after %d answers, pid %d up", round+1, pid, at, bp.Pid())
			}
			<-sent
			l.wait(2 * time.Minute)
			if f := l.failed(); f != 0 {
				t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
			}
			read := consumeFrom(t, bp.Addrs(), "restart", n)
			l.checkLog(read)
			m := p.Metrics()
			t.Logf("%d records, %d retried, %d producer id resets, %d requests", n, m.RecordsRetried, m.ProducerIDResets, m.RequestsSent)
		})
	}
}

// consumeFrom reads want records of topic from the brokers at addrs.
func consumeFrom(t *testing.T, addrs []string, topic string, want int) []*kgo.Record {
	t.Helper()
	return consumeAddrs(t, addrs, topic, want, 30*time.Second)
}
