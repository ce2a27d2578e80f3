package producer

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/kprod/kprod/internal/kafkatest"
)

// leakCheck is kafkatest.LeakCheck: the returned function, called once the
// test closed what it started (the cluster included), fails the test if a
// goroutine other than those running at the call (and kfake's own) is
// still running.
func leakCheck(t *testing.T) func(extra ...goleak.Option) {
	t.Helper()
	return kafkatest.LeakCheck(t)
}

// slowProduce delays every produce response by d, so requests are in flight
// when the test acts.
func slowProduce(c *kfake.Cluster, d time.Duration) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { time.Sleep(d) })
		return nil, nil, false
	})
}

// sendFrom sends n records per goroutine from g goroutines, goroutine w to
// partition w, ids base+w*n .. base+w*n+n-1.
func sendFrom(ctx context.Context, p *Producer, l *ledger, topic string, base, g, n int) {
	var wg sync.WaitGroup
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				id := base + w*n + i
				rec := l.record(topic, id)
				rec.Partition, rec.PinPartition = int32(w), true
				p.Send(ctx, rec, l.callback(id))
			}
		}()
	}
	wg.Wait()
}

// TestCloseLiveBroker closes a producer holding records in open batches,
// closed batches and requests in flight to a slow but live broker: Close
// sends everything, every callback has run once when it returns, every
// record is in the log once and in order, and no goroutine is left.
func TestCloseLiveBroker(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(3, "close"))
	p := ownProducer(t, c, WithLinger(50*time.Millisecond), WithBatchSize(4096))
	slowProduce(c, 30*time.Millisecond)
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	const per = 3000
	sendFrom(ctx, p, l, "close", 0, 3, per)
	start := time.Now()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("Close took %v", time.Since(start))
	l.checkAnsweredOnce() // before any wait: Close returns after the callbacks
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed on a clean close, e.g. %v", f, firstErr(l))
	}
	l.checkLog(consume(t, c, "close", 3*per))
	c.Close()
	verify()
}

// TestCloseDeadlineStalledBroker closes a producer whose broker takes
// requests but never answers them: Close returns by its context's deadline,
// every record is answered once (ErrClosed) or, when Close gave up before
// its callback started, skipped, and no goroutine is left.
func TestCloseDeadlineStalledBroker(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(3, "stall"))
	p := ownProducer(t, c, WithLinger(5*time.Millisecond), WithRequestTimeout(30*time.Second))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "stall", Value: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	stallProduce(c, release)
	l := newLedger(t)
	sendFrom(ctx, p, l, "stall", 0, 3, 2000)
	time.Sleep(50 * time.Millisecond) // let requests go out and stall
	closeCtx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Close(closeCtx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the context's deadline", err)
	}
	if took > time.Second {
		t.Fatalf("Close took %v with a 300ms context", took)
	}
	// Close gave up on its ctx: the callbacks not started 100 ms later
	// are skipped (a starved machine gets that far), the rest answered.
	answered := l.checkAnsweredOrSkipped(p, 5*time.Second)
	l.checkAllFailed(ErrClosed, answered) // the broker answered none
	close(release)
	c.Close()
	verify()
}

// TestCloseDeadlineBrokerGone shuts the whole cluster down under a producer
// with records buffered and in flight: Close returns by its deadline, every
// record is answered once (or its callback skipped when Close gave up
// before it started), and no goroutine is left.
func TestCloseDeadlineBrokerGone(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(3, "gone"))
	p := ownProducer(t, c, WithLinger(5*time.Millisecond), WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "gone", Value: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	slowProduce(c, 20*time.Millisecond)
	l := newLedger(t)
	sendFrom(ctx, p, l, "gone", 0, 3, 2000)
	c.Close()
	sendFrom(ctx, p, l, "gone", 6000, 3, 100)
	closeCtx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Close(closeCtx)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("Close took %v with a 500ms context", took)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v", err)
	}
	l.checkAnsweredOrSkipped(p, 5*time.Second)
	l.mu.Lock()
	for id, err := range l.errs {
		if !errors.Is(err, ErrClosed) {
			l.mu.Unlock()
			t.Fatalf("record %d: %v, want ErrClosed", id, err)
		}
	}
	l.mu.Unlock()
	verify()
}

// TestCloseUnblocksWaitingSends closes a producer while Sends wait for
// metadata (no broker listens) and for buffer memory (the broker stalls):
// both return promptly with ErrClosed, their callbacks run once.
func TestCloseUnblocksWaitingSends(t *testing.T) {
	t.Run("metadata", func(t *testing.T) {
		verify := leakCheck(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		p, err := New(WithBrokers(addr), WithMaxBlock(30*time.Second), WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		checkCloseUnblocks(t, p, &Record{Topic: "t", Value: []byte("x")})
		verify()
	})
	t.Run("memory", func(t *testing.T) {
		verify := leakCheck(t)
		c := newCluster(t, kfake.SeedTopics(1, "t"))
		p := ownProducer(t, c, WithBufferMemory(64<<10), WithBatchSize(16<<10), WithMaxBlock(30*time.Second), WithLinger(0))
		ctx := ctxTimeout(t, 30*time.Second)
		if _, err := p.SendSync(ctx, &Record{Topic: "t", Value: []byte("warm")}); err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		stallProduce(c, release)
		// Fill the buffer: these wait on the stalled broker.
		for p.Metrics().BufferBytesAvailable >= 16<<10 {
			p.Send(ctx, &Record{Topic: "t", Value: make([]byte, 15<<10)}, nil)
		}
		checkCloseUnblocks(t, p, &Record{Topic: "t", Value: make([]byte, 15<<10)})
		close(release)
		c.Close()
		verify()
	})
}

// checkCloseUnblocks starts a Send of rec that must block, closes p, and
// checks the Send ends with ErrClosed soon after, answered once.
func checkCloseUnblocks(t *testing.T, p *Producer, rec *Record) {
	t.Helper()
	var calls atomic.Int32
	sent := make(chan error, 1)
	go func() {
		_, err := p.Send(context.Background(), rec, func(RecordMetadata, error) { calls.Add(1) }).Get(context.Background())
		sent <- err
	}()
	select {
	case err := <-sent:
		t.Fatalf("Send did not block: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = p.Close(closeCtx)
	select {
	case err := <-sent:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Send ended with %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a Send blocked before Close is still blocked 2s after it")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("callback ran %d times", n)
	}
}

// TestConcurrentClose calls Close from several goroutines at once, on a live
// broker and on a stalled one: every call returns (by its deadline), they
// agree, every record is answered once, and no goroutine is left.
func TestConcurrentClose(t *testing.T) {
	for _, stalled := range []bool{false, true} {
		name := "live"
		if stalled {
			name = "stalled"
		}
		t.Run(name, func(t *testing.T) {
			verify := leakCheck(t)
			c := newCluster(t, kfake.SeedTopics(3, "cc"))
			p := ownProducer(t, c, WithLinger(20*time.Millisecond))
			ctx := ctxTimeout(t, 30*time.Second)
			// Id -1: before every ledger record of its partition.
			if _, err := p.SendSync(ctx, &Record{Topic: "cc", Value: []byte("v--1"), PinPartition: true}); err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			if stalled {
				stallProduce(c, release)
			}
			l := newLedger(t)
			sendFrom(ctx, p, l, "cc", 0, 3, 1000)
			const closers = 8
			errs := make([]error, closers)
			var wg sync.WaitGroup
			start := time.Now()
			for i := range closers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
					defer cancel()
					errs[i] = p.Close(cctx)
				}()
			}
			wg.Wait()
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("concurrent Close calls took %v with 400ms contexts", took)
			}
			for i, err := range errs {
				switch {
				case !stalled && err != nil:
					t.Fatalf("Close %d: %v", i, err)
				case stalled && !errors.Is(err, context.DeadlineExceeded):
					t.Fatalf("Close %d: %v, want the deadline", i, err)
				}
			}
			l.checkAnsweredOnce()
			if !stalled {
				if f := l.failed(); f != 0 {
					t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
				}
				l.checkLog(consume(t, c, "cc", 3000+1))
			} else if f := l.failed(); f != 3000 {
				t.Fatalf("%d of 3000 records failed with the broker stalled", f)
			}
			close(release)
			c.Close()
			verify()
		})
	}
}

// TestCloseRacesSends closes the producer while goroutines keep sending:
// each record is answered exactly once, either written or failed with
// ErrClosed, and every written one is in the log once, in order.
func TestCloseRacesSends(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(4, "race"))
	p := ownProducer(t, c, WithLinger(time.Millisecond))
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	const writers, per = 4, 200_000
	var wg sync.WaitGroup
	var sent atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				id := w*per + i
				rec := l.record("race", id)
				rec.Partition, rec.PinPartition = int32(w), true
				fut := p.Send(ctx, rec, l.callback(id))
				sent.Add(1)
				select {
				case <-fut.Done():
					if _, err := fut.Get(ctx); errors.Is(err, ErrClosed) {
						return // refused: the producer is closing
					}
				default:
				}
			}
		}()
	}
	for sent.Load() < 20_000 {
		time.Sleep(time.Millisecond)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	l.wait(5 * time.Second)
	l.checkAnsweredOnce()
	l.mu.Lock()
	written := 0
	for id := range l.answers {
		err := l.errs[id]
		if err != nil && !errors.Is(err, ErrClosed) {
			l.mu.Unlock()
			t.Fatalf("record %d: %v, want success or ErrClosed", id, err)
		}
		if err == nil {
			written++
		}
	}
	l.mu.Unlock()
	if written == 0 {
		t.Fatal("nothing was written before Close")
	}
	l.checkLog(consume(t, c, "race", written))
	t.Logf("%d records written, %d refused by Close", written, l.failed())
	c.Close()
	verify()
}
