package producer

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// deadAddr is an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// checkCanceledSend sends to an existing topic with a ctx canceled before
// the call: the record fails with the ctx's error (not ErrUnknownTopic)
// before Send returns, and is not written.
func checkCanceledSend(t *testing.T, warm bool) {
	c := newCluster(t, kfake.SeedTopics(3, "exists"))
	p := newTestProducer(t, c)
	ctx := ctxTimeout(t, 20*time.Second)
	if warm {
		if _, err := p.SendSync(ctx, &Record{Topic: "exists", Value: []byte("v-0")}); err != nil {
			t.Fatal(err)
		}
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	var cbErr error
	fut := p.Send(canceled, &Record{Topic: "exists", Value: []byte("v-1")}, func(_ RecordMetadata, err error) { calls++; cbErr = err })
	select {
	case <-fut.Done():
	default:
		t.Fatal("not answered when Send returned")
	}
	if calls != 1 || !errors.Is(cbErr, context.Canceled) || errors.Is(cbErr, ErrUnknownTopic) || errors.Is(cbErr, ErrMaxBlock) {
		t.Fatalf("callback ran %d times with %v; want once with context.Canceled only", calls, cbErr)
	}
	if _, err := fut.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("future: %v", err)
	}
	// Nothing of the canceled Send reaches the log: only the marker (and
	// the warm-up record) are read back.
	if _, err := p.SendSync(ctx, &Record{Topic: "exists", Value: []byte("v-2")}); err != nil {
		t.Fatal(err)
	}
	want := 1
	if warm {
		want = 2
	}
	for _, r := range consume(t, c, "exists", want) {
		if valueID(t, r.Value) == 1 {
			t.Fatal("the record sent with a canceled ctx was written")
		}
	}
}

// TestSendCanceledCtxColdMetadata: a Send with an already-canceled ctx to
// an existing topic whose metadata is not loaded yet fails with
// context.Canceled, not ErrUnknownTopic.
func TestSendCanceledCtxColdMetadata(t *testing.T) { checkCanceledSend(t, false) }

// TestSendCanceledCtxWarmMetadata: the same Send once the topic's metadata
// is cached fails the same way (it used to write the record).
func TestSendCanceledCtxWarmMetadata(t *testing.T) { checkCanceledSend(t, true) }

// TestSendUnreachableBrokerIsMaxBlock sends while no broker can be
// reached: after max.block the record fails with ErrMaxBlock, not
// ErrUnknownTopic (no broker said the topic does not exist), retriable,
// and the message states the time really waited.
func TestSendUnreachableBrokerIsMaxBlock(t *testing.T) {
	const maxBlock = 400 * time.Millisecond
	p := newDeadProducer(t, WithMaxBlock(maxBlock))
	start := time.Now()
	_, err := p.SendSync(ctxTimeout(t, 20*time.Second), &Record{Topic: "t", Value: []byte("x")})
	took := time.Since(start)
	if !errors.Is(err, ErrMaxBlock) || errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("got %v; want ErrMaxBlock and not ErrUnknownTopic", err)
	}
	if !IsRetriable(err) {
		t.Fatalf("IsRetriable(%v) = false", err)
	}
	if took < maxBlock-50*time.Millisecond || took > maxBlock+time.Second {
		t.Fatalf("failed after %v, max.block is %v", took, maxBlock)
	}
	checkStatesWait(t, err, took)
}

// TestSendCtxDeadlineStatesRealElapsed sends with a 300ms ctx (max.block
// keeps its 60s default) while no broker can be reached: the error matches
// the ctx's deadline, neither ErrMaxBlock nor ErrUnknownTopic, and says
// about 300ms, not max.block's 1m0s.
func TestSendCtxDeadlineStatesRealElapsed(t *testing.T) {
	p := newDeadProducer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Send(ctx, &Record{Topic: "t", Value: []byte("x")}, nil).Get(context.Background())
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrMaxBlock) || errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("got %v; want the ctx's deadline only", err)
	}
	if strings.Contains(err.Error(), "1m0s") {
		t.Fatalf("the message states max.block, not the time waited: %v", err)
	}
	checkStatesWait(t, err, took)
	// PartitionsFor follows the same rule.
	if _, err := p.PartitionsFor(ctx, "t"); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("PartitionsFor with an ended ctx: %v", err)
	}
}

// TestSendUnknownTopicWhenBrokerSaysSo: with auto-creation off (kfake's
// default) the broker answers UNKNOWN_TOPIC_OR_PARTITION; after max.block
// the error wraps both ErrUnknownTopic and ErrMaxBlock, and states the wait.
func TestSendUnknownTopicWhenBrokerSaysSo(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "exists"))
	const maxBlock = 300 * time.Millisecond
	p := newTestProducer(t, c, WithMaxBlock(maxBlock))
	start := time.Now()
	_, err := p.SendSync(ctxTimeout(t, 20*time.Second), &Record{Topic: "missing", Value: []byte("x")})
	if !errors.Is(err, ErrUnknownTopic) || !errors.Is(err, ErrMaxBlock) {
		t.Fatalf("got %v; want ErrUnknownTopic and ErrMaxBlock", err)
	}
	checkStatesWait(t, err, time.Since(start))
}

// newDeadProducer is a producer whose only broker does not listen.
func newDeadProducer(t *testing.T, opts ...Opt) *Producer {
	t.Helper()
	p, err := New(append([]Opt{WithBrokers(deadAddr(t)), WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// checkStatesWait checks that err's message states a wait of about took.
func checkStatesWait(t *testing.T, err error, took time.Duration) {
	t.Helper()
	msg := err.Error()
	i := strings.Index(msg, "waited ")
	if i < 0 {
		t.Fatalf("the message does not say how long it waited: %v", err)
	}
	field := strings.Fields(msg[i+len("waited "):])[0]
	d, perr := time.ParseDuration(field)
	if perr != nil {
		t.Fatalf("cannot read the wait %q in %v", field, err)
	}
	if diff := d - took; diff > 50*time.Millisecond || diff < -250*time.Millisecond {
		t.Fatalf("the message says it waited %v; it took %v", d, took)
	}
}
