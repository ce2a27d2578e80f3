package producer

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestBusyClockFollowsRate drives a busyClock with a record count: at
// ten million records/s the ticker starts and Send's reading stays within
// a few ticks of the clock; when the records stop it ends by itself and
// Send reads the clock again; after stop no ticker starts.
func TestBusyClockFollowsRate(t *testing.T) {
	var sent atomic.Int64
	c := &busyClock{count: sent.Load, rate: busyRate}
	deadline := time.Now().Add(5 * time.Second)
	for !c.on.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the ticker did not start at ten million records/s")
		}
		sent.Add(10_000)
		c.observe(nanotime())
		time.Sleep(time.Millisecond)
	}
	for range 50 {
		sent.Add(10_000)
		c.observe(nanotime())
		got, now := c.read(), nanotime()
		// A tick is 1 ms; the ticker goroutine may be scheduled late on a
		// loaded machine, but not by 100 ms.
		if got > now || now-got > int64(100*time.Millisecond) {
			t.Fatalf("busy reading %v behind the clock", time.Duration(now-got))
		}
		time.Sleep(time.Millisecond)
	}
	// No more records: the ticker notices within a window or two.
	deadline = time.Now().Add(5 * time.Second)
	for c.on.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the ticker kept running with no records sent")
		}
		time.Sleep(time.Millisecond)
	}
	if before := nanotime(); c.read() < before {
		t.Fatal("an idle read is older than the clock read before it")
	}
	// Busy again, then stopped: the ticker ends and never starts again.
	for !c.on.Load() && time.Now().Before(deadline.Add(5*time.Second)) {
		sent.Add(10_000)
		c.observe(nanotime())
		time.Sleep(time.Millisecond)
	}
	c.stop()
	if c.on.Load() {
		t.Fatal("on after stop")
	}
	sent.Add(1_000_000)
	c.observe(nanotime() + int64(time.Second))
	if c.on.Load() {
		t.Fatal("a ticker started after stop")
	}
}

// TestBusyClockIdleProducerReadsClock: below the rate the ticker never
// starts (a moderate producer's timestamps and latencies stay exact).
func TestBusyClockIdleProducerReadsClock(t *testing.T) {
	var sent atomic.Int64
	c := &busyClock{count: sent.Load, rate: busyRate}
	for range 100 {
		sent.Add(100) // 100,000 records/s at most
		c.observe(nanotime())
		time.Sleep(time.Millisecond)
	}
	if c.on.Load() {
		t.Fatal("the ticker started at a moderate rate")
	}
	c.stop()
}

// TestBusyProducerTimestamps sends as fast as Send takes records, with the
// busy clock's rate lowered so that its ticker runs even under -race: each
// record's timestamp, read back by kgo, lies between just before its Send
// (less the ticker's staleness) and its acknowledgement; every record is
// answered once, written once, in order; the ticker ran, and no goroutine
// is left after Close.
func TestBusyProducerTimestamps(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(3, "busy"))
	p := ownProducer(t, c, func(cfg *config) { cfg.busyRate = 2000 }, WithLinger(2*time.Millisecond), WithBatchSize(4096))
	ctx := ctxTimeout(t, 30*time.Second)
	const n = 30_000
	l := newLedger(t)
	var sentAt, ackedAt [n]atomic.Int64
	var busySeen atomic.Bool
	for i := range n {
		if p.s.clock.on.Load() {
			busySeen.Store(true)
		}
		cb := l.callback(i)
		sentAt[i].Store(time.Now().UnixMilli())
		p.Send(ctx, l.record("busy", i), func(md RecordMetadata, err error) {
			ackedAt[i].Store(time.Now().UnixMilli())
			cb(md, err)
		})
	}
	l.wait(20 * time.Second)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !busySeen.Load() {
		t.Fatal("the busy clock never ran: the test did not exercise it")
	}
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed", f)
	}
	read := consume(t, c, "busy", n)
	l.checkLog(read)
	// A tick is 1 ms; the ticker may run late on a loaded machine (and
	// under -race), but a reading 250 ms stale would be a broken clock.
	const stale = 250
	worst := int64(0)
	for _, r := range read {
		id := valueID(t, r.Value)
		ts := r.Timestamp.UnixMilli()
		if lo, hi := sentAt[id].Load()-stale, ackedAt[id].Load(); ts < lo || ts > hi {
			t.Fatalf("record %d stamped %d, outside [%d, %d] (its Send less %d ms, its ack)", id, ts, lo, hi, stale)
		}
		worst = max(worst, sentAt[id].Load()-ts)
	}
	t.Logf("%d records; the stalest timestamp was %d ms before its Send began", n, worst)
	c.Close()
	verify()
}
