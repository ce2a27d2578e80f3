package producer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestNewSkipsNilOptions: producer.New(nil) used to panic; nil options
// are skipped.
func TestNewSkipsNilOptions(t *testing.T) {
	for _, opts := range [][]Opt{{nil}, {nil, WithBrokers("127.0.0.1:1"), nil}} {
		p, err := New(opts...)
		if err != nil {
			t.Fatalf("New with nil options: %v", err)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPartitionWithoutPinRejected: Record{Partition: 2} without
// PinPartition used to go wherever the partitioner chose; it is refused,
// before Send returns, with ErrInvalidRecord, and the zero Partition still
// means "let the partitioner choose".
func TestPartitionWithoutPinRejected(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "pin"))
	p := newTestProducer(t, c)
	ctx := ctxTimeout(t, 10*time.Second)
	calls := 0
	fut := p.Send(ctx, &Record{Topic: "pin", Value: []byte("x"), Partition: 2}, func(_ RecordMetadata, err error) {
		calls++
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("callback: %v", err)
		}
	})
	if _, err := fut.Get(ctx); !errors.Is(err, ErrInvalidRecord) || calls != 1 {
		t.Fatalf("Partition 2 without PinPartition: %v (callback ran %d times)", err, calls)
	}
	if md, err := p.SendSync(ctx, &Record{Topic: "pin", Value: []byte("x"), Partition: 2, PinPartition: true}); err != nil || md.Partition != 2 {
		t.Fatalf("pinned: %+v %v", md, err)
	}
	if _, err := p.SendSync(ctx, &Record{Topic: "pin", Value: []byte("x")}); err != nil {
		t.Fatalf("unpinned zero Partition: %v", err)
	}
}

// TestEmptyHeaderKeyAccepted: Kafka and Java accept a header with an empty
// key (only a null key is not representable); the record is written and
// read back with its headers intact.
func TestEmptyHeaderKeyAccepted(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "hdr"))
	p := newTestProducer(t, c)
	ctx := ctxTimeout(t, 10*time.Second)
	hs := []Header{{Key: "", Value: []byte("empty key")}, {Key: "k", Value: nil}, {Key: "", Value: []byte{}}}
	if _, err := p.SendSync(ctx, &Record{Topic: "hdr", Value: []byte("v-0"), Headers: hs}); err != nil {
		t.Fatalf("record with an empty header key: %v", err)
	}
	read := consume(t, c, "hdr", 1)
	got := read[0].Headers
	if len(got) != 3 || got[0].Key != "" || string(got[0].Value) != "empty key" || got[1].Key != "k" || got[2].Key != "" {
		t.Fatalf("headers read back: %+v", got)
	}
}

// TestDeliveryTimeoutUnreachableIsRetriable: a record that expires because
// its broker went away fails with ErrDeliveryTimeout, and IsRetriable says
// sending it again may succeed (Java's TimeoutException is retriable too).
func TestDeliveryTimeoutUnreachableIsRetriable(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "gone"))
	p := ownProducer(t, c, WithLinger(0), WithRequestTimeout(200*time.Millisecond), WithDeliveryTimeout(600*time.Millisecond),
		WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	defer p.Close(context.Background())
	ctx := ctxTimeout(t, 20*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "gone", Value: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	start := time.Now()
	_, err := p.SendSync(ctx, &Record{Topic: "gone", Value: []byte("lost")})
	if !errors.Is(err, ErrDeliveryTimeout) {
		t.Fatalf("got %v after %v, want ErrDeliveryTimeout", err, time.Since(start))
	}
	if !IsRetriable(err) {
		t.Fatalf("IsRetriable(%v) = false", err)
	}
	if IsRetriable(ErrInvalidRecord) || IsRetriable(ErrRecordTooLarge) || IsRetriable(ErrClosed) {
		t.Fatal("IsRetriable true for a permanent error")
	}
}
