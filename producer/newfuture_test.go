package producer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kprod/kprod/producer"
)

// A hand-written fake that returned producer.Future{} made Get panic with a
// nil dereference; the zero Future now answers ErrInvalidFuture at once.
func TestZeroFutureGetDoesNotPanic(t *testing.T) {
	var f producer.Future
	select {
	case <-f.Done():
	default:
		t.Fatal("the zero Future's Done channel is not closed")
	}
	md, err := f.Get(context.Background())
	if !errors.Is(err, producer.ErrInvalidFuture) {
		t.Fatalf("Get on the zero Future: err = %v, want ErrInvalidFuture", err)
	}
	if md.Offset != -1 || md.Partition != -1 {
		t.Fatalf("Get on the zero Future: metadata %+v, want partition and offset -1", md)
	}
}

func TestNewFutureAnswersOnce(t *testing.T) {
	f, complete := producer.NewFuture()
	select {
	case <-f.Done():
		t.Fatal("a new Future is done before complete")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := f.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on a pending Future: %v, want the context's error", err)
	}

	want := producer.RecordMetadata{Topic: "t", Partition: 2, Offset: 41, Timestamp: time.UnixMilli(1_700_000_000_123)}
	var wg sync.WaitGroup
	got := make(chan producer.RecordMetadata, 4)
	for range 4 { // waiters before the answer
		wg.Go(func() {
			md, err := f.Get(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- md
		})
	}
	if !complete(want, nil) {
		t.Fatal("the first complete returned false")
	}
	if complete(producer.RecordMetadata{Offset: 7}, errors.New("late")) {
		t.Fatal("a second complete returned true")
	}
	wg.Wait()
	close(got)
	for md := range got {
		if md != want {
			t.Fatalf("Get = %+v, want %+v", md, want)
		}
	}
	if md, err := f.Get(context.Background()); md != want || err != nil {
		t.Fatalf("Get after the answer = %+v, %v", md, err)
	}
}

func TestNewFutureError(t *testing.T) {
	f, complete := producer.NewFuture()
	boom := errors.New("boom")
	go complete(producer.RecordMetadata{Topic: "t", Partition: 1, Offset: 9}, boom)
	<-f.Done()
	md, err := f.Get(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if md.Topic != "t" || md.Partition != 1 || md.Offset != -1 {
		t.Fatalf("metadata %+v: want topic t, partition 1, offset -1 (as the producer reports a failed record)", md)
	}
}
