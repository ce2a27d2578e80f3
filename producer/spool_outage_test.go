package producer

import (
	"bytes"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/internal/kafkatest"
)

// paddedValue is record id's value, padded to size bytes.
func paddedValue(id, size int) []byte {
	v := []byte("v-" + strconv.Itoa(id) + "|")
	return append(v, bytes.Repeat([]byte{'x'}, max(size-len(v), 0))...)
}

// TestSpoolOutage stops the cluster (a child process, so its memory is not
// this process's) and sends ten times buffer.memory of fire-and-forget
// records meanwhile. With the spool, no Send fails or waits out max.block,
// the process's RSS stays within buffer.memory plus a constant, and once
// the cluster is back every record is in the log exactly once, in order per
// partition.
func TestSpoolOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes: skipped with -short")
	}
	const (
		topic      = "spooled"
		partitions = 3
		bufMem     = 4 << 20
		valueSize  = 100
		warm       = 2_000
	)
	outage := 12 * bufMem / (valueSize + 10) // records sent while the brokers are down: ten buffers and more
	bp, spec := startRestartable(t, 3, topic, partitions)
	dir := t.TempDir()
	p, err := New(WithBrokers(bp.Addrs()...), WithBufferMemory(bufMem), WithLinger(5*time.Millisecond),
		WithMaxBlock(10*time.Second), WithRequestTimeout(2*time.Second), WithDeliveryTimeout(30*time.Second),
		WithRetryBackoff(20*time.Millisecond, 300*time.Millisecond), WithReconnectBackoff(20*time.Millisecond, 300*time.Millisecond),
		WithLogger(testLogger(t)),
		WithSpool(dir, SpoolSync(SyncNever), SpoolOutageAfter(300*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctxTimeout(t, 5*time.Second))
	ctx := ctxTimeout(t, 3*time.Minute)

	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			f := p.Send(ctx, &Record{Topic: topic, Value: paddedValue(i, valueSize)}, nil)
			select {
			case <-f.Done():
				if _, err := f.Get(ctx); err != nil {
					t.Fatalf("Send of record %d failed at once: %v", i, err)
				}
			default:
			}
		}
	}
	send(0, warm)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bp.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mem := kafkatest.SampleMemory(t)
	start := time.Now()
	send(warm, warm+outage)
	took := time.Since(start)
	mem.End()
	m := p.Metrics()
	t.Logf("outage: %d records (%d MiB, %.1fx buffer.memory) sent in %v; spooled %d batches, %d records, spool %d MiB; %v",
		outage, outage*valueSize>>20, float64(outage*valueSize)/bufMem, took.Round(time.Millisecond),
		m.SpooledBatches, m.SpooledRecords, m.SpoolBytes>>20, mem)
	if m.SpooledRecords < int64(outage)/2 {
		t.Fatalf("only %d records spooled of %d sent during the outage", m.SpooledRecords, outage)
	}
	// The constant: the runtime's own growth, GC headroom, the read-back
	// allowance, spool bookkeeping per batch.
	mem.CheckGrowth(t, bufMem+24<<20, "buffer.memory + 24 MiB")

	bp = startBrokers(t, spec)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m = p.Metrics()
	total := warm + outage
	if m.RecordsSent != int64(total) || m.RecordsFailed != 0 {
		t.Fatalf("%d records acknowledged and %d failed of %d", m.RecordsSent, m.RecordsFailed, total)
	}
	read := consumeFrom(t, bp.Addrs(), topic, total)
	checkOncePerPartitionOrder(t, read, total)
	t.Logf("after the outage: %d spooled batches read back, %d records acknowledged, every one once in the log in order", m.SpoolReads, m.RecordsSent)
}

// checkOncePerPartitionOrder checks that the records read hold ids 0..n-1
// once each, increasing within each partition.
func checkOncePerPartitionOrder(t *testing.T, read []*kgo.Record, n int) {
	t.Helper()
	seen := make([]int, n)
	last := map[int32]int{}
	for _, r := range read {
		id := valueID(t, r.Value)
		if id < 0 || id >= n {
			t.Fatalf("unexpected record id %d", id)
		}
		if seen[id]++; seen[id] > 1 {
			t.Fatalf("record %d is in the log twice (partition %d offset %d)", id, r.Partition, r.Offset)
		}
		if prev, ok := last[r.Partition]; ok && id < prev {
			t.Fatalf("partition %d: record %d after %d", r.Partition, id, prev)
		}
		last[r.Partition] = id
	}
	for id, c := range seen {
		if c == 0 {
			t.Fatalf("record %d is not in the log (%d records read)", id, len(read))
		}
	}
}

// TestSpoolOutageCallbacks is the outage with a callback per record and an
// interceptor: every spooled record's callback and interceptor run once,
// with the offset where the record is.
func TestSpoolOutageCallbacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes: skipped with -short")
	}
	const topic, n = "spooled-cb", 20_000
	bp, spec := startRestartable(t, 3, topic, 3)
	var acks atomic.Int64
	p, err := New(WithBrokers(bp.Addrs()...), WithBufferMemory(1<<20), WithLinger(5*time.Millisecond),
		WithRequestTimeout(2*time.Second), WithRetryBackoff(20*time.Millisecond, 300*time.Millisecond),
		WithReconnectBackoff(20*time.Millisecond, 300*time.Millisecond), WithLogger(testLogger(t)),
		WithInterceptors(InterceptorFuncs{Ack: func(RecordMetadata, error) { acks.Add(1) }}),
		WithSpool(t.TempDir(), SpoolSync(SyncInterval), SpoolOutageAfter(200*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctxTimeout(t, 5*time.Second))
	ctx := ctxTimeout(t, 2*time.Minute)
	l := newLedger(t)
	if _, err := p.SendSync(ctx, &Record{Topic: topic, Value: []byte("v-0")}); err != nil {
		t.Fatal(err)
	}
	if err := bp.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		p.Send(ctx, l.record(topic, i), l.callback(i))
	}
	for deadline := time.Now().Add(10 * time.Second); p.Metrics().SpooledRecords < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records spooled 10 s into the outage", p.Metrics().SpooledRecords, n)
		}
	}
	bp = startBrokers(t, spec)
	l.wait(time.Minute)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	read := consumeFrom(t, bp.Addrs(), topic, n+1)
	var mine []*kgo.Record
	for _, r := range read {
		if string(r.Value) != "v-0" {
			mine = append(mine, r)
		}
	}
	l.checkLog(mine)
	if got := acks.Load(); got != n+1 {
		t.Fatalf("the interceptor saw %d acknowledgements of %d records", got, n+1)
	}
	m := p.Metrics()
	t.Logf("%d records with callbacks, %d spooled: each callback and interceptor once, at the record's offset", n, m.SpooledRecords)
}

// durableCount is a DurableHook counting the records it is told of.
type durableCount struct{ n atomic.Int64 }

func (d *durableCount) OnDurable(ev Durable) { d.n.Add(int64(ev.Records)) }

// TestSpoolFull fills a small spool during an outage: Send then waits out
// max.block and fails with ErrBufferFull wrapping ErrSpoolFull, as without a
// spool; every record accepted before is written once, in order, when the
// cluster returns, and the DurableHook told of the spooled ones.
func TestSpoolFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes: skipped with -short")
	}
	const topic = "spool-full"
	bp, spec := startRestartable(t, 1, topic, 2)
	hook := &durableCount{}
	p, err := New(WithBrokers(bp.Addrs()...), WithBufferMemory(256<<10), WithBatchSize(8<<10), WithLinger(2*time.Millisecond),
		WithMaxBlock(300*time.Millisecond), WithRequestTimeout(time.Second), WithHooks(hook),
		WithRetryBackoff(20*time.Millisecond, 200*time.Millisecond), WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond),
		WithSpool(t.TempDir(), SpoolMaxBytes(1<<20), SpoolSync(SyncAlways), SpoolOutageAfter(100*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctxTimeout(t, 5*time.Second))
	ctx := ctxTimeout(t, 2*time.Minute)
	if _, err := p.SendSync(ctx, &Record{Topic: topic, Value: paddedValue(0, 100)}); err != nil {
		t.Fatal(err)
	}
	if err := bp.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	accepted := 1
	var sendErr error
	for i := 1; i < 100_000 && sendErr == nil; i++ {
		f := p.Send(ctx, &Record{Topic: topic, Value: paddedValue(i, 100)}, nil)
		select {
		case <-f.Done():
			if _, err := f.Get(ctx); err != nil {
				sendErr = err
				continue
			}
		default:
		}
		accepted++
	}
	if !errors.Is(sendErr, ErrBufferFull) || !errors.Is(sendErr, ErrMaxBlock) || !errors.Is(sendErr, ErrSpoolFull) {
		t.Fatalf("Send with the spool full: %v; want ErrBufferFull, ErrMaxBlock and ErrSpoolFull", sendErr)
	}
	m := p.Metrics()
	if m.SpoolRefusals == 0 || m.SpooledRecords == 0 {
		t.Fatalf("refusals %d, spooled records %d", m.SpoolRefusals, m.SpooledRecords)
	}
	durable := hook.n.Load()
	bp = startBrokers(t, spec)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m = p.Metrics()
	if m.RecordsSent != int64(accepted) || m.RecordsFailed != 1 { // the one Send refused
		t.Fatalf("%d acknowledged and %d failed of %d accepted", m.RecordsSent, m.RecordsFailed, accepted)
	}
	read := consumeFrom(t, bp.Addrs(), topic, accepted)
	checkOncePerPartitionOrder(t, read, accepted)
	if durable == 0 || durable > m.SpooledRecords {
		t.Fatalf("the DurableHook heard of %d records before the cluster returned; %d were spooled", durable, m.SpooledRecords)
	}
	t.Logf("spool full after %d records (%d spooled, %d reported durable by the hook, %d refusals): %v", accepted, m.SpooledRecords, durable, m.SpoolRefusals, sendErr)
}
