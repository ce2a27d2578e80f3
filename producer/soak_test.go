package producer

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSoakFaultMix streams records over six partitions while the cluster
// misbehaves in every way the producer must ride out: every retriable or
// epoch-resetting code of the fault matrix, in turn, on one produce
// request in 10; a dropped connection on one in 100; and leaders
// shuffled every 150ms. Nothing may fail, be lost, be duplicated or be
// reordered.
func TestSoakFaultMix(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	var codes []*kerr.Error
	for _, row := range faultMatrix {
		if row.want == retried || row.want == resetThenWritten {
			codes = append(codes, row.err)
		}
	}
	const topic, n = "soakmix", 200_000
	c := newCluster(t, kfake.SeedTopics(6, topic))
	p := newTestProducer(t, c, WithLinger(2*time.Millisecond), WithBatchSize(2048),
		WithRetryBackoff(5*time.Millisecond, 50*time.Millisecond), WithRequestTimeout(5*time.Second),
		WithReconnectBackoff(5*time.Millisecond, 50*time.Millisecond), WithDeliveryTimeout(2*time.Minute))

	var (
		reqs, drops atomic.Int64
		mu          sync.Mutex
		handles     []*kfake.FaultHandle
	)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := reqs.Add(1)
		if r%100 == 50 {
			drops.Add(1)
			return nil, errors.New("dropped by the soak"), true // closes the connection
		}
		if r%10 == 0 {
			code := codes[int(r/10)%len(codes)]
			h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: code})
			mu.Lock()
			handles = append(handles, h)
			mu.Unlock()
		}
		return nil, nil, false
	})
	stopShuffle := shuffleLeaders(c, 150*time.Millisecond)
	l := newLedger(t)
	sendPaced(t, p, l, topic, n, 6, 2*time.Minute)
	stopShuffle()
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	read := consume(t, c, topic, n)
	l.checkLog(read) // lost, duplicated or reordered records fail here
	faults := 0
	mu.Lock()
	for _, h := range handles {
		faults += h.Hits()
	}
	mu.Unlock()
	m := p.Metrics()
	t.Logf("soak: %d records, %d produce requests at the brokers, %d error codes injected (%d kinds), %d connections dropped, "+
		"%d record retries, %d producer id resets; read back %d: 0 lost, 0 duplicated, order kept",
		n, reqs.Load(), faults, len(codes), drops.Load(), m.RecordsRetried, m.ProducerIDResets, len(read))
	if faults < 100 || drops.Load() < 10 {
		t.Fatalf("only %d faults and %d dropped connections: the soak stressed nothing", faults, drops.Load())
	}
}
