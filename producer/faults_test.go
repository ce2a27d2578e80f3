package producer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// stallProduce makes the cluster hold every produce request until release is
// closed (or the cluster closes).
func stallProduce(c *kfake.Cluster, release <-chan struct{}) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-release:
			return nil, nil, false
		default:
		}
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
}

func TestBufferFullBlocksThenFails(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "full"))
	p := newTestProducer(t, c, WithBufferMemory(64<<10), WithBatchSize(16<<10), WithMaxBlock(300*time.Millisecond),
		WithLinger(0), WithRequestTimeout(20*time.Second))
	ctx := ctxTimeout(t, 60*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "full", Value: []byte("v-0")}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	stallProduce(c, release)
	l := newLedger(t)
	var firstFail time.Duration
	start := time.Now()
	id := 1
	for ; id < 10_000; id++ {
		rec := l.record("full", id)
		rec.Value = append(rec.Value, '|')
		rec.Value = append(rec.Value, make([]byte, 1000)...)
		sendStart := time.Now()
		fut := p.Send(ctx, rec, l.callback(id))
		select {
		case <-fut.Done():
			if _, err := fut.Get(ctx); err != nil {
				if !errors.Is(err, ErrBufferFull) || !errors.Is(err, ErrMaxBlock) {
					t.Fatalf("record %d: %v, want ErrBufferFull and ErrMaxBlock", id, err)
				}
				firstFail = time.Since(sendStart)
			}
		default:
		}
		if firstFail > 0 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("Send never failed with a full buffer")
		}
	}
	if firstFail < 250*time.Millisecond || firstFail > 5*time.Second {
		t.Fatalf("Send failed after %v, want about max.block (300ms)", firstFail)
	}
	if inUse := p.Metrics().BufferBytesInUse; inUse > 64<<10 {
		t.Fatalf("%d bytes of buffer in use, more than buffer.memory", inUse)
	}
	// TrySend fails at once.
	tryStart := time.Now()
	_, err := p.TrySend(ctx, &Record{Topic: "full", Value: make([]byte, 1000)}, nil).Get(ctx)
	if !errors.Is(err, ErrBufferFull) || time.Since(tryStart) > 100*time.Millisecond {
		t.Fatalf("TrySend: %v after %v", err, time.Since(tryStart))
	}
	close(release)
	l.wait(30 * time.Second)
	// The producer carries on once the broker answers again.
	if _, err := p.SendSync(ctx, &Record{Topic: "full", Value: []byte("v-99999")}); err != nil {
		t.Fatal(err)
	}
	l.checkLog(consume(t, c, "full", id-l.failed()+2))
}

func TestLeaderMovesMidStream(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "move"))
	p := newTestProducer(t, c, WithLinger(time.Millisecond), WithRetryBackoff(10*time.Millisecond, 100*time.Millisecond))
	ctx := ctxTimeout(t, 60*time.Second)
	l := newLedger(t)
	const n = 20_000
	for i := 0; i < n; i++ {
		if i%4000 == 2000 {
			for part := int32(0); part < 3; part++ {
				to := (c.LeaderFor("move", part) + 1) % 3
				if err := c.MoveTopicPartition("move", part, to); err != nil {
					t.Fatal(err)
				}
			}
		}
		rec := l.record("move", i)
		rec.Partition, rec.PinPartition = int32(i%3), true
		p.Send(ctx, rec, l.callback(i))
	}
	l.wait(60 * time.Second)
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed: %v", f, firstErr(l))
	}
	l.checkLog(consume(t, c, "move", n))
}

func firstErr(l *ledger) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs {
		return err
	}
	return nil
}

func TestCloseAnswersBufferedRecords(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "close"))
	p := newTestProducer(t, c, WithLinger(time.Minute), WithDeliveryTimeout(2*time.Minute))
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	for i := 0; i < 1000; i++ {
		p.Send(ctx, l.record("close", i), l.callback(i))
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	l.checkAnsweredOnce() // Close returns after every callback ran
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed on a clean close", f)
	}
	l.checkLog(consume(t, c, "close", 1000))
}

func TestCloseWithDeadBrokerAnswersEverything(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "dead"))
	p := newTestProducer(t, c, WithLinger(0))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "dead", Value: []byte("v-0")}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	stallProduce(c, release)
	l := newLedger(t)
	for i := 1; i <= 500; i++ {
		p.Send(ctx, l.record("dead", i), l.callback(i))
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Close(closeCtx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a 500ms context", d)
	}
	l.checkAnsweredOnce()
	if f := l.failed(); f != 500 {
		t.Fatalf("%d of 500 records failed", f)
	}
	for _, err := range l.errs {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("record failed with %v, want ErrClosed", err)
		}
	}
}

func TestDeliveryTimeoutExpiresRecords(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "expire"))
	p := newTestProducer(t, c, WithLinger(0), WithRequestTimeout(200*time.Millisecond),
		WithDeliveryTimeout(600*time.Millisecond), WithRetryBackoff(20*time.Millisecond, 50*time.Millisecond))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "expire", Value: []byte("v-0")}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	stallProduce(c, release)
	var calls atomic.Int32
	start := time.Now()
	_, err := p.Send(ctx, &Record{Topic: "expire", Value: []byte("late")}, func(RecordMetadata, error) { calls.Add(1) }).Get(ctx)
	if !errors.Is(err, ErrDeliveryTimeout) {
		t.Fatalf("got %v, want ErrDeliveryTimeout", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Fatalf("answered after %v, delivery.timeout is 600ms", d)
	}
	time.Sleep(50 * time.Millisecond)
	if calls.Load() != 1 {
		t.Fatalf("callback ran %d times", calls.Load())
	}
}

// TestDeliveryTimeoutWhileSenderWaits: a batch that cannot go out (here the
// producer id never comes: InitProducerId is held by the broker) still
// expires at delivery.timeout. The sender must wake for the expiry, not
// only for linger and retry times.
func TestDeliveryTimeoutWhileSenderWaits(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "expire-idle"))
	release := make(chan struct{})
	defer close(release)
	c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, errors.New("held by the test"), true
	})
	p := newTestProducer(t, c, WithLinger(0), WithRequestTimeout(time.Second),
		WithDeliveryTimeout(1500*time.Millisecond))
	ctx := ctxTimeout(t, 30*time.Second)
	start := time.Now()
	_, err := p.Send(ctx, &Record{Topic: "expire-idle", Value: []byte("v")}, nil).Get(ctx)
	if !errors.Is(err, ErrDeliveryTimeout) {
		t.Fatalf("got %v, want ErrDeliveryTimeout", err)
	}
	d := time.Since(start)
	t.Logf("answered after %v", d)
	if d > 5*time.Second {
		t.Fatalf("answered after %v, delivery.timeout is 1.5s", d)
	}
}
