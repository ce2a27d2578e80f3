package producer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

// completerGoroutines counts the goroutines running the completer of any
// producer, read from every goroutine's stack.
func completerGoroutines() int {
	return strings.Count(string(allStacks()), "producer.(*completer).run(")
}

// TestCloseFromCallbackReturns calls Close from a record's callback (a
// service shutting down on a fatal error) with records buffered behind it:
// Close returns well within its ctx instead of waiting for the goroutine
// it runs on, delivers what was buffered, and once the callback returns
// every other record is answered once and no goroutine is left.
func TestCloseFromCallbackReturns(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(3, "cbclose", "cbfirst"))
	var logs syncBuffer
	p := ownProducer(t, c, WithLinger(time.Minute), // nothing leaves on its own: Close must send it
		WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "cbclose", Value: []byte("v--1")}); err != nil {
		t.Fatal(err)
	}
	l := newLedger(t)
	sendFrom(ctx, p, l, "cbclose", 0, 3, 500) // buffered for a minute of linger

	type closed struct {
		err  error
		took time.Duration
	}
	done := make(chan closed, 1)
	var calls atomic.Int32
	// Urgent (as SendSync is), so this record goes out at once while the
	// others stay buffered; its callback closes the producer.
	p.send(ctx, &Record{Topic: "cbfirst", Value: []byte("first")}, func(_ RecordMetadata, err error) {
		calls.Add(1)
		if err != nil {
			t.Errorf("first record: %v", err)
		}
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		cerr := p.Close(cctx)
		done <- closed{cerr, time.Since(start)}
	}, true, true)

	var got closed
	select {
	case got = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close called from a callback did not return within 10s (its ctx was 1s)")
	}
	t.Logf("Close from the callback took %v", got.took)
	if got.err != nil {
		t.Fatalf("Close from a callback, live broker: %v", got.err)
	}
	if got.took > 900*time.Millisecond {
		t.Fatalf("Close from a callback took %v; it should not wait for its own goroutine", got.took)
	}
	l.wait(10 * time.Second) // their callbacks run after the first one returned
	l.checkAnsweredOnce()
	if f := l.failed(); f != 0 {
		t.Fatalf("%d buffered records failed, e.g. %v", f, firstErr(l))
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the closing callback ran %d times", n)
	}
	if !strings.Contains(logs.String(), "Close called from a callback") {
		t.Fatalf("no warning logged; logs: %q", logs.String())
	}
	if err := p.Close(ctx); err != nil { // a second Close sees the first one's outcome
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.SendSync(ctx, &Record{Topic: "cbclose", Value: []byte("v-9999")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	l.checkLog(consume(t, c, "cbclose", 1+1500))
	c.Close()
	verify()
}

// TestCloseFromCallbackStalledBroker calls Close from a callback while the
// broker takes requests but answers none: Close returns by its ctx with
// the ctx's error, and after the callback returns every other record is
// answered once with ErrClosed and no goroutine is left.
func TestCloseFromCallbackStalledBroker(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(3, "cbstall"))
	p := ownProducer(t, c, WithLinger(5*time.Millisecond), WithRequestTimeout(30*time.Second))
	ctx := ctxTimeout(t, 30*time.Second)
	proceed := make(chan struct{})
	var closeErr error
	var took time.Duration
	returned := make(chan struct{})
	fut := p.Send(ctx, &Record{Topic: "cbstall", Value: []byte("first")}, func(RecordMetadata, error) {
		defer close(returned)
		<-proceed
		cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		closeErr = p.Close(cctx)
		took = time.Since(start)
	})
	if _, err := fut.Get(ctx); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	stallProduce(c, release)
	l := newLedger(t)
	sendFrom(ctx, p, l, "cbstall", 0, 3, 1000)
	time.Sleep(50 * time.Millisecond) // let requests go out and stall
	close(proceed)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the callback calling Close did not return")
	}
	if !errors.Is(closeErr, context.DeadlineExceeded) {
		t.Fatalf("Close from a callback, stalled broker: %v, want the ctx's deadline", closeErr)
	}
	if took > time.Second {
		t.Fatalf("Close from a callback took %v with a 300ms ctx", took)
	}
	l.wait(5 * time.Second)
	l.checkAnsweredOnce()
	l.checkAllFailed(ErrClosed, 3000) // the broker answered none
	close(release)
	c.Close()
	verify()
}

// TestCloseReturnsByCtxWithSlowCallbacks is the case: three
// callbacks that sleep 2s each and a Close with a 500ms ctx. Close returns
// by its ctx (plus its short grace) with an error matching the ctx's; the
// callback in progress finishes, the two behind it never start (their
// Futures hold the outcome), and the callback goroutine then exits.
func TestCloseReturnsByCtxWithSlowCallbacks(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(1, "slowcb"))
	p := ownProducer(t, c, WithLinger(0))
	ctx := ctxTimeout(t, 30*time.Second)
	var calls atomic.Int32
	started := make(chan struct{}, 3)
	returned := make(chan struct{}, 3)
	futs := make([]Future, 3)
	for i := range futs {
		futs[i] = p.Send(ctx, &Record{Topic: "slowcb", Value: []byte("slow")}, func(RecordMetadata, error) {
			calls.Add(1)
			started <- struct{}{}
			time.Sleep(2 * time.Second)
			returned <- struct{}{}
		})
	}
	for _, f := range futs {
		if _, err := f.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	<-started // the first callback is running, the others wait behind it
	cctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Close(cctx)
	took := time.Since(start)
	t.Logf("Close took %v: %v", took, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want an error matching context.DeadlineExceeded", err)
	}
	if took > 500*time.Millisecond+closeCallbackGrace+300*time.Millisecond {
		t.Fatalf("Close took %v with a 500ms ctx", took)
	}
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("the running callback did not return")
	}
	// The goroutine exits once the callback it was in returned.
	deadline := time.Now().Add(2 * time.Second)
	for completerGoroutines() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := completerGoroutines(); n != 0 {
		t.Fatalf("%d callback goroutines still running after the callback returned", n)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d callbacks ran; only the one running when Close gave up should have", n)
	}
	if m := p.Metrics(); m.CallbacksSkipped != 2 {
		t.Fatalf("Metrics.CallbacksSkipped = %d, want 2", m.CallbacksSkipped)
	}
	for i, f := range futs {
		if md, err := f.Get(ctx); err != nil || md.Offset < 0 {
			t.Fatalf("record %d: future %+v, %v; want its real outcome", i, md, err)
		}
	}
	if err2 := p.Close(ctx); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("a second Close: %v, want the first one's %v", err2, err)
	}
	c.Close()
	verify()
}

// TestCloseReturnsByCtxWithStuckCallback closes a producer whose callback
// blocks until the test lets it go: Close returns by its ctx, the only
// goroutine of the producer left is the one inside that callback, and it
// exits once the callback returns.
func TestCloseReturnsByCtxWithStuckCallback(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(1, "stuckcb"))
	p := ownProducer(t, c, WithLinger(0))
	ctx := ctxTimeout(t, 30*time.Second)
	unblock := make(chan struct{})
	entered := make(chan struct{})
	fut := p.Send(ctx, &Record{Topic: "stuckcb", Value: []byte("x")}, func(RecordMetadata, error) {
		close(entered)
		<-unblock
	})
	<-entered
	l := newLedger(t)
	for i := range 100 {
		p.Send(ctx, l.record("stuckcb", i), l.callback(i))
	}
	cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Close(cctx)
	if took := time.Since(start); took > 300*time.Millisecond+closeCallbackGrace+300*time.Millisecond {
		t.Fatalf("Close took %v with a 300ms ctx", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v", err)
	}
	if n := completerGoroutines(); n != 1 {
		t.Fatalf("%d callback goroutines after Close; want the one stuck in the callback", n)
	}
	if _, err := fut.Get(ctx); err != nil {
		t.Fatal(err)
	}
	// Besides it, nothing of the producer runs (the cluster is closed first,
	// so its goroutines do not count).
	c.Close()
	verify(goleak.IgnoreAnyFunction("github.com/kprod/kprod/producer.(*completer).run"))
	// The 100 records were delivered (Close had time to send them); their
	// callbacks were queued behind the stuck one and are skipped.
	l.mu.Lock()
	ran := len(l.answers)
	l.mu.Unlock()
	if ran != 0 {
		t.Fatalf("%d callbacks behind the stuck one ran", ran)
	}
	close(unblock)
	deadline := time.Now().Add(2 * time.Second)
	for completerGoroutines() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := completerGoroutines(); n != 0 {
		t.Fatalf("%d callback goroutines left after the stuck callback returned", n)
	}
	if m := p.Metrics(); m.CallbacksSkipped != 100 {
		t.Fatalf("Metrics.CallbacksSkipped = %d, want 100", m.CallbacksSkipped)
	}
	verify()
}

// TestCallbackPanicRecovered makes some callbacks and an interceptor panic:
// the process survives, each panic is logged and counted, the panicking
// record is not answered again, the record whose interceptor panicked still
// gets its callback, and every later record is answered as usual.
func TestCallbackPanicRecovered(t *testing.T) {
	verify := leakCheck(t)
	c := newCluster(t, kfake.SeedTopics(3, "panics"))
	var logs syncBuffer
	var acks atomic.Int32
	ic := InterceptorFuncs{Ack: func(md RecordMetadata, _ error) {
		acks.Add(1)
		if md.Offset == 7 && md.Partition == 0 {
			panic("interceptor boom")
		}
	}}
	p := ownProducer(t, c, WithLinger(2*time.Millisecond), WithInterceptors(ic),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	const n = 600
	panicked := 0
	for i := range n {
		rec := l.record("panics", i)
		rec.Partition, rec.PinPartition = int32(i%3), true
		cb := l.callback(i)
		if i%50 == 0 {
			panicked++
			inner := cb
			cb = func(md RecordMetadata, err error) {
				inner(md, err) // answered, then the panic
				panic("callback boom")
			}
		}
		p.Send(ctx, rec, cb)
	}
	l.wait(10 * time.Second)
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l.checkAnsweredOnce()
	if f := l.failed(); f != 0 {
		t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
	}
	if got := acks.Load(); got != n {
		t.Fatalf("interceptor saw %d acknowledgements, want %d", got, n)
	}
	if m := p.Metrics(); m.CallbackPanics != int64(panicked+1) {
		t.Fatalf("Metrics.CallbackPanics = %d, want %d", m.CallbackPanics, panicked+1)
	}
	out := logs.String()
	if strings.Count(out, "recovered a panic") != panicked+1 || !strings.Contains(out, "callback boom") ||
		!strings.Contains(out, "interceptor boom") {
		t.Fatalf("panics not logged as expected:\n%.2000s", out)
	}
	l.checkLog(consume(t, c, "panics", n))
	c.Close()
	verify()
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
