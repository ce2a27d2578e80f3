package producertest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/partitioner"
	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// answers counts the answers of each record a test sends, to check that
// every record is answered exactly once.
type answers struct {
	t    *testing.T
	mu   sync.Mutex
	got  map[int][]error
	meta map[int]producer.RecordMetadata
}

func newAnswers(t *testing.T) *answers {
	return &answers{t: t, got: map[int][]error{}, meta: map[int]producer.RecordMetadata{}}
}

func (a *answers) cb(id int) producer.Callback {
	return func(md producer.RecordMetadata, err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.got[id] = append(a.got[id], err)
		a.meta[id] = md
	}
}

// once asserts ids 0..n-1 were each answered exactly once, and returns
// their errors.
func (a *answers) once(n int) []error {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	errs := make([]error, n)
	for id := range n {
		if len(a.got[id]) != 1 {
			a.t.Fatalf("record %d answered %d times", id, len(a.got[id]))
		}
		errs[id] = a.got[id][0]
	}
	if len(a.got) != n {
		a.t.Fatalf("%d records answered, %d sent", len(a.got), n)
	}
	return errs
}

func TestMockAutoCompletePartitionsAndOffsets(t *testing.T) {
	m := producertest.NewMockProducer(producertest.WithPartitions("orders", 3))
	ctx := kafkatest.Context(t, 5*time.Second)
	a := newAnswers(t)

	// Unkeyed records go round robin from partition 0.
	for i := range 4 {
		fut := m.Send(ctx, &producer.Record{Topic: "orders", Value: []byte("v")}, a.cb(i))
		select {
		case <-fut.Done():
		default:
			t.Fatalf("record %d: automatic mode answers during Send", i)
		}
	}
	// Keyed records land where murmur2 puts them; pinned ones where pinned.
	md, err := m.SendSync(ctx, &producer.Record{Topic: "orders", Key: []byte("alice"), Value: []byte("v")})
	if err != nil || md.Partition != partitioner.KeyPartition([]byte("alice"), 3) {
		t.Fatalf("keyed record: %+v, %v", md, err)
	}
	md, err = m.SendSync(ctx, &producer.Record{Topic: "orders", Key: []byte("alice"), Partition: 2, PinPartition: true})
	if err != nil || md.Partition != 2 {
		t.Fatalf("pinned record: %+v, %v", md, err)
	}
	// A topic not configured has one partition.
	md, err = m.SendSync(ctx, &producer.Record{Topic: "other", Key: []byte("k")})
	if err != nil || md.Partition != 0 || md.Offset != 0 || md.Topic != "other" {
		t.Fatalf("record to an unconfigured topic: %+v, %v", md, err)
	}

	for _, err := range a.once(4) {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantPart := []int32{0, 1, 2, 0}
	wantOff := []int64{0, 0, 0, 1}
	for i := range 4 {
		if md := a.meta[i]; md.Partition != wantPart[i] || md.Offset != wantOff[i] {
			t.Fatalf("record %d at %d@%d, want %d@%d", i, md.Partition, md.Offset, wantPart[i], wantOff[i])
		}
	}
	// Offsets count per partition across all sends.
	next := map[int32]int64{}
	for i, s := range m.History() {
		if !s.Answered || s.Err != nil {
			t.Fatalf("history %d: %+v", i, s)
		}
		if s.Record.Topic == "orders" {
			if s.Offset != next[s.Partition] {
				t.Fatalf("history %d: offset %d on partition %d, want %d", i, s.Offset, s.Partition, next[s.Partition])
			}
			next[s.Partition]++
		}
	}
}

// The caller may reuse its buffers once Send returns: the mock keeps copies,
// and a null key or value stays null while an empty one stays empty.
func TestMockCopiesRecords(t *testing.T) {
	m := producertest.NewMockProducer()
	key, val, hv := []byte("key"), []byte("value"), []byte("hv")
	ts := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	rec := &producer.Record{Topic: "t", Key: key, Value: val, Headers: []producer.Header{{Key: "h", Value: hv}}, Timestamp: ts}
	md, err := m.SendSync(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if !md.Timestamp.Equal(time.UnixMilli(ts.UnixMilli())) {
		t.Fatalf("timestamp %v, want %v in milliseconds", md.Timestamp, ts)
	}
	copy(key, "XXX")
	copy(val, "XXXXX")
	copy(hv, "XX")
	rec.Headers[0].Key = "changed"
	m.Send(context.Background(), &producer.Record{Topic: "t", Key: nil, Value: []byte{}}, nil)

	h := m.History()
	if len(h) != 2 {
		t.Fatalf("history has %d records, want 2", len(h))
	}
	got := h[0].Record
	if string(got.Key) != "key" || string(got.Value) != "value" || got.Headers[0].Key != "h" || string(got.Headers[0].Value) != "hv" {
		t.Fatalf("history kept the caller's buffers: %+v", got)
	}
	if !h[0].Timestamp.Equal(md.Timestamp) {
		t.Fatalf("history timestamp %v, answer %v", h[0].Timestamp, md.Timestamp)
	}
	if h[1].Record.Key != nil || h[1].Record.Value == nil || len(h[1].Record.Value) != 0 {
		t.Fatalf("null key / empty value not kept apart: key %#v value %#v", h[1].Record.Key, h[1].Record.Value)
	}
	// Changing a snapshot changes nothing inside the mock.
	h[0].Record.Value[0] = 'Z'
	if string(m.History()[0].Record.Value) != "value" {
		t.Fatal("History shares buffers with the mock")
	}
}

func TestMockManualCompletion(t *testing.T) {
	m := producertest.NewMockProducer(producertest.ManualCompletion(), producertest.WithPartitions("t", 2))
	ctx := kafkatest.Context(t, 5*time.Second)
	a := newAnswers(t)
	futs := make([]producer.Future, 4)
	for i := range futs {
		futs[i] = m.Send(ctx, &producer.Record{Topic: "t", Value: []byte{byte(i)}, Partition: 1, PinPartition: true}, a.cb(i))
	}
	if m.Pending() != 4 {
		t.Fatalf("pending %d, want 4", m.Pending())
	}
	select {
	case <-futs[0].Done():
		t.Fatal("a record is answered before the test completes it")
	default:
	}
	for _, s := range m.History() {
		if s.Answered || s.Offset != -1 || s.Partition != 1 {
			t.Fatalf("pending record in history: %+v", s)
		}
	}

	boom := errors.New("boom")
	if !m.CompleteNext() || !m.ErrorNext(boom) || !m.CompleteNext() {
		t.Fatal("CompleteNext/ErrorNext reported nothing pending")
	}
	if m.Pending() != 1 {
		t.Fatalf("pending %d, want 1", m.Pending())
	}
	if n := m.CompleteAll(); n != 1 {
		t.Fatalf("CompleteAll answered %d, want 1", n)
	}
	if m.CompleteNext() || m.ErrorNext(boom) {
		t.Fatal("CompleteNext/ErrorNext answered with nothing pending")
	}

	errs := a.once(4)
	wantOff := []int64{0, -1, 1, 2} // a failed record takes no offset
	for i, f := range futs {
		md, err := f.Get(ctx)
		if md.Offset != wantOff[i] || !errors.Is(err, errs[i]) && err != errs[i] {
			t.Fatalf("record %d: Get %+v, %v; callback %v", i, md, err, errs[i])
		}
		if (i == 1) != errors.Is(err, boom) {
			t.Fatalf("record %d: err %v", i, err)
		}
	}
}

func TestMockWaitPending(t *testing.T) {
	m := producertest.NewMockProducer(producertest.ManualCompletion())
	got := make(chan error, 1)
	go func() {
		_, err := m.SendSync(context.Background(), &producer.Record{Topic: "t", Value: []byte("v")})
		got <- err
	}()
	if err := m.WaitPending(kafkatest.Context(t, 5*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	m.ErrorNext(kerr.NotEnoughReplicas)
	if err := <-got; !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("SendSync: %v", err)
	}
	if err := m.WaitPending(kafkatest.Context(t, 20*time.Millisecond), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitPending with nothing coming: %v", err)
	}
}

// Records the producer refuses are refused the same way, answered before
// Send returns, and kept in the history with their error.
func TestMockRefusesWhatTheProducerRefuses(t *testing.T) {
	m := producertest.NewMockProducer(producertest.WithPartitions("t", 2), producertest.WithMaxRequestSize(1000))
	ctx := context.Background()
	cases := []struct {
		name string
		rec  *producer.Record
		want error
	}{
		{"nil record", nil, producer.ErrInvalidRecord},
		{"empty topic", &producer.Record{Value: []byte("v")}, producer.ErrInvalidRecord},
		{"bad topic name", &producer.Record{Topic: "a b"}, producer.ErrInvalidRecord},
		{"empty header key", &producer.Record{Topic: "t", Headers: []producer.Header{{Value: []byte("x")}}}, producer.ErrInvalidRecord},
		{"partition out of range", &producer.Record{Topic: "t", Partition: 2, PinPartition: true}, producer.ErrInvalidRecord},
		{"negative partition", &producer.Record{Topic: "t", Partition: -1, PinPartition: true}, producer.ErrInvalidRecord},
		{"too large", &producer.Record{Topic: "t", Value: make([]byte, 2000)}, producer.ErrRecordTooLarge},
	}
	for _, c := range cases {
		called := 0
		var cbErr error
		fut := m.Send(ctx, c.rec, func(_ producer.RecordMetadata, err error) { called++; cbErr = err })
		if called != 1 || !errors.Is(cbErr, c.want) {
			t.Fatalf("%s: callback ran %d times before Send returned, with %v; want %v", c.name, called, cbErr, c.want)
		}
		if md, err := fut.Get(ctx); !errors.Is(err, c.want) || md.Offset != -1 {
			t.Fatalf("%s: Get %+v, %v", c.name, md, err)
		}
	}
	h := m.History()
	if len(h) != len(cases)-1 { // the nil record has nothing to keep
		t.Fatalf("history has %d records, want %d", len(h), len(cases)-1)
	}
	for _, s := range h {
		if !s.Answered || s.Err == nil || s.Offset != -1 {
			t.Fatalf("refused record in history: %+v", s)
		}
	}
	// A custom partitioner out of range is refused too.
	bad := producertest.NewMockProducer(producertest.WithPartitioner(partitioner.Func(func(string, []byte, []byte, int) int32 { return 7 })))
	if _, err := bad.SendSync(ctx, &producer.Record{Topic: "t"}); !errors.Is(err, producer.ErrInvalidRecord) {
		t.Fatalf("partitioner out of range: %v", err)
	}
}

func TestMockCustomPartitioner(t *testing.T) {
	m := producertest.NewMockProducer(producertest.WithDefaultPartitions(4),
		producertest.WithPartitioner(partitioner.Func(func(_ string, _, value []byte, n int) int32 { return int32(len(value) % n) })))
	md, err := m.SendSync(context.Background(), &producer.Record{Topic: "t", Key: []byte("k"), Value: []byte("abc")})
	if err != nil || md.Partition != 3 {
		t.Fatalf("%+v, %v: want partition 3", md, err)
	}
}

func TestMockFailNext(t *testing.T) {
	for _, manual := range []bool{false, true} {
		t.Run(fmt.Sprint("manual=", manual), func(t *testing.T) {
			var opts []producertest.MockOpt
			if manual {
				opts = append(opts, producertest.ManualCompletion())
			}
			m := producertest.NewMockProducer(opts...)
			m.FailNext(2, producer.ErrDeliveryTimeout)
			ctx := kafkatest.Context(t, 5*time.Second)
			for i := range 2 {
				if _, err := m.SendSync(ctx, &producer.Record{Topic: "t"}); !errors.Is(err, producer.ErrDeliveryTimeout) {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			fut := m.Send(ctx, &producer.Record{Topic: "t"}, nil)
			m.CompleteNext()
			if md, err := fut.Get(ctx); err != nil || md.Offset != 0 {
				t.Fatalf("third send: %+v, %v (failed records take no offset)", md, err)
			}
		})
	}
}

func TestMockFlushWaitsForAnswers(t *testing.T) {
	m := producertest.NewMockProducer(producertest.ManualCompletion())
	a := newAnswers(t)
	for i := range 3 {
		m.Send(context.Background(), &producer.Record{Topic: "t"}, a.cb(i))
	}
	if err := m.Flush(kafkatest.Context(t, 20*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with records pending: %v, want the context's error", err)
	}
	go func() {
		for m.CompleteNext() || m.Pending() > 0 {
		}
	}()
	if err := m.Flush(kafkatest.Context(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	a.once(3) // Flush returned after every callback
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(context.Background()); !errors.Is(err, producer.ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
}

func TestMockCloseFailsPendingAndLaterSends(t *testing.T) {
	m := producertest.NewMockProducer(producertest.ManualCompletion())
	a := newAnswers(t)
	for i := range 3 {
		m.Send(context.Background(), &producer.Record{Topic: "t"}, a.cb(i))
	}
	m.CompleteNext()
	if err := m.Close(kafkatest.Context(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	errs := a.once(3)
	if errs[0] != nil || !errors.Is(errs[1], producer.ErrClosed) || !errors.Is(errs[2], producer.ErrClosed) {
		t.Fatalf("answers %v: want nil, ErrClosed, ErrClosed", errs)
	}
	if !m.Closed() || m.Pending() != 0 {
		t.Fatalf("closed %v, pending %d", m.Closed(), m.Pending())
	}
	called := 0
	_, err := m.Send(context.Background(), &producer.Record{Topic: "t"}, func(_ producer.RecordMetadata, err error) { called++ }).Get(context.Background())
	if !errors.Is(err, producer.ErrClosed) || called != 1 {
		t.Fatalf("Send after Close: %v, callback ran %d times", err, called)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestMockNotTransactional(t *testing.T) {
	m := producertest.NewMockProducer()
	ctx := context.Background()
	calls := map[string]error{
		"InitTransactions":         m.InitTransactions(ctx),
		"BeginTransaction":         m.BeginTransaction(),
		"SendOffsetsToTransaction": m.SendOffsetsToTransaction(ctx, nil, producer.GroupMetadata{GroupID: "g"}),
		"CommitTransaction":        m.CommitTransaction(ctx),
		"AbortTransaction":         m.AbortTransaction(ctx),
	}
	for name, err := range calls {
		if !errors.Is(err, producer.ErrInvalidState) {
			t.Fatalf("%s without a transactional id: %v", name, err)
		}
	}
}

func TestMockTransactions(t *testing.T) {
	m := producertest.NewMockProducer(producertest.WithTransactionalID("tx"))
	ctx := kafkatest.Context(t, 5*time.Second)
	send := func(v string) error {
		_, err := m.SendSync(ctx, &producer.Record{Topic: "t", Value: []byte(v)})
		return err
	}
	// Out of order: the producer's state machine says no.
	if err := send("early"); !errors.Is(err, producer.ErrInvalidState) {
		t.Fatalf("Send before InitTransactions: %v", err)
	}
	if err := m.BeginTransaction(); !errors.Is(err, producer.ErrInvalidState) {
		t.Fatalf("BeginTransaction before InitTransactions: %v", err)
	}
	if err := m.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	if err := send("outside"); !errors.Is(err, producer.ErrInvalidState) {
		t.Fatalf("Send outside a transaction: %v", err)
	}
	if err := m.CommitTransaction(ctx); !errors.Is(err, producer.ErrInvalidState) {
		t.Fatalf("CommitTransaction without BeginTransaction: %v", err)
	}

	// A committed transaction.
	offs := map[string]map[int32]producer.OffsetAndMetadata{"in": {0: {Offset: 42, LeaderEpoch: -1}}}
	group := producer.GroupMetadata{GroupID: "g", Generation: -1}
	if err := m.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := m.BeginTransaction(); !errors.Is(err, producer.ErrInvalidState) {
		t.Fatalf("BeginTransaction twice: %v", err)
	}
	if err := errors.Join(send("c1"), send("c2"), m.SendOffsetsToTransaction(ctx, offs, group), m.CommitTransaction(ctx)); err != nil {
		t.Fatal(err)
	}
	offs["in"][0] = producer.OffsetAndMetadata{Offset: 99} // the mock kept a copy

	// An aborted one.
	if err := errors.Join(m.BeginTransaction(), send("a1"), m.SendOffsetsToTransaction(ctx, offs, group), m.AbortTransaction(ctx)); err != nil {
		t.Fatal(err)
	}
	if m.Commits() != 1 || m.Aborts() != 1 {
		t.Fatalf("commits %d aborts %d", m.Commits(), m.Aborts())
	}
	want := map[string]producertest.TxnStatus{"early": producertest.TxnNone, "outside": producertest.TxnNone,
		"c1": producertest.TxnCommitted, "c2": producertest.TxnCommitted, "a1": producertest.TxnAborted}
	for _, s := range m.History() {
		if s.Txn != want[string(s.Record.Value)] {
			t.Fatalf("record %q: transaction %v, want %v", s.Record.Value, s.Txn, want[string(s.Record.Value)])
		}
	}
	so := m.Offsets()
	if len(so) != 2 || so[0].Txn != producertest.TxnCommitted || so[1].Txn != producertest.TxnAborted ||
		so[0].Offsets["in"][0].Offset != 42 || so[1].Offsets["in"][0].Offset != 99 || so[0].Group.GroupID != "g" {
		t.Fatalf("offsets %+v", so)
	}
}

// A failed record makes the transaction abortable: commit refuses, sends
// refuse, abort clears it and the next transaction commits.
func TestMockFailedRecordMakesTransactionAbortable(t *testing.T) {
	m := producertest.NewMockProducer(producertest.WithTransactionalID("tx"), producertest.ManualCompletion())
	ctx := kafkatest.Context(t, 5*time.Second)
	if err := errors.Join(m.InitTransactions(ctx), m.BeginTransaction()); err != nil {
		t.Fatal(err)
	}
	f1 := m.Send(ctx, &producer.Record{Topic: "t", Value: []byte("1")}, nil)
	f2 := m.Send(ctx, &producer.Record{Topic: "t", Value: []byte("2")}, nil)
	m.CompleteNext()
	m.ErrorNext(kerr.InvalidRecord)
	if _, err := f1.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f2.Get(ctx); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatal(err)
	}
	if err := m.CommitTransaction(ctx); !errors.Is(err, producer.ErrAbortable) || !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("CommitTransaction after a failed record: %v", err)
	}
	if _, err := m.Send(ctx, &producer.Record{Topic: "t"}, nil).Get(ctx); !errors.Is(err, producer.ErrAbortable) {
		t.Fatalf("Send in an abortable transaction: %v", err)
	}
	if err := m.AbortTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	m.Send(ctx, &producer.Record{Topic: "t", Value: []byte("3")}, nil)
	m.CompleteAll()
	if err := m.CommitTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Commits() != 1 || m.Aborts() != 1 {
		t.Fatalf("commits %d aborts %d", m.Commits(), m.Aborts())
	}
}

// CommitTransaction waits for the transaction's records; a timeout leaves
// the commit to be called again.
func TestMockCommitWaitsForRecords(t *testing.T) {
	m := producertest.NewMockProducer(producertest.WithTransactionalID("tx"), producertest.ManualCompletion())
	ctx := kafkatest.Context(t, 5*time.Second)
	if err := errors.Join(m.InitTransactions(ctx), m.BeginTransaction()); err != nil {
		t.Fatal(err)
	}
	m.Send(ctx, &producer.Record{Topic: "t"}, nil)
	if err := m.CommitTransaction(kafkatest.Context(t, 20*time.Millisecond)); !errors.Is(err, producer.ErrTxnTimeout) {
		t.Fatalf("CommitTransaction with a record pending: %v, want ErrTxnTimeout", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.CommitTransaction(ctx) }()
	if err := m.WaitPending(ctx, 1); err != nil {
		t.Fatal(err)
	}
	m.CompleteNext()
	if err := <-done; err != nil {
		t.Fatalf("CommitTransaction again: %v", err)
	}
	if h := m.History(); h[0].Txn != producertest.TxnCommitted {
		t.Fatalf("record after commit: %+v", h[0])
	}
}

func TestMockAbortAndCloseFailPendingTransactionRecords(t *testing.T) {
	m := producertest.NewMockProducer(producertest.WithTransactionalID("tx"), producertest.ManualCompletion())
	ctx := kafkatest.Context(t, 5*time.Second)
	a := newAnswers(t)
	if err := errors.Join(m.InitTransactions(ctx), m.BeginTransaction()); err != nil {
		t.Fatal(err)
	}
	m.Send(ctx, &producer.Record{Topic: "t"}, a.cb(0))
	m.Send(ctx, &producer.Record{Topic: "t"}, a.cb(1))
	m.CompleteNext()
	if err := m.AbortTransaction(ctx); err != nil {
		t.Fatal(err)
	}
	// Close aborts the transaction still open.
	if err := m.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	m.Send(ctx, &producer.Record{Topic: "t"}, a.cb(2))
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	errs := a.once(3)
	if errs[0] != nil || !errors.Is(errs[1], producer.ErrAborted) || !errors.Is(errs[2], producer.ErrAborted) {
		t.Fatalf("answers %v: want nil, ErrAborted, ErrAborted", errs)
	}
	for i, s := range m.History() {
		if s.Txn != producertest.TxnAborted {
			t.Fatalf("record %d: %v, want aborted", i, s.Txn)
		}
	}
	if m.Aborts() != 2 {
		t.Fatalf("aborts %d, want 2", m.Aborts())
	}
	if err := m.BeginTransaction(); !errors.Is(err, producer.ErrClosed) {
		t.Fatalf("BeginTransaction after Close: %v", err)
	}
}

func TestMockFence(t *testing.T) {
	m := producertest.NewMockProducer(producertest.WithTransactionalID("tx"), producertest.ManualCompletion())
	ctx := kafkatest.Context(t, 5*time.Second)
	if err := errors.Join(m.InitTransactions(ctx), m.BeginTransaction()); err != nil {
		t.Fatal(err)
	}
	fut := m.Send(ctx, &producer.Record{Topic: "t"}, nil)
	m.Fence()
	if _, err := fut.Get(ctx); !errors.Is(err, producer.ErrFenced) {
		t.Fatalf("pending record after Fence: %v", err)
	}
	if _, err := m.SendSync(ctx, &producer.Record{Topic: "t"}); !errors.Is(err, producer.ErrFenced) || !errors.Is(err, producer.ErrFatal) {
		t.Fatalf("Send after Fence: %v", err)
	}
	if err := m.CommitTransaction(ctx); !errors.Is(err, producer.ErrFenced) {
		t.Fatalf("CommitTransaction after Fence: %v", err)
	}
	if err := m.AbortTransaction(ctx); !errors.Is(err, producer.ErrFenced) {
		t.Fatalf("AbortTransaction after Fence: %v", err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Many goroutines sending, a completer, Flush and Close racing: every
// record answered once, offsets of each partition unique and gapless.
func TestMockConcurrentUse(t *testing.T) {
	for _, manual := range []bool{false, true} {
		t.Run(fmt.Sprint("manual=", manual), func(t *testing.T) {
			opts := []producertest.MockOpt{producertest.WithDefaultPartitions(4)}
			if manual {
				opts = append(opts, producertest.ManualCompletion())
			}
			m := producertest.NewMockProducer(opts...)
			ctx := kafkatest.Context(t, 10*time.Second)
			const senders, each = 8, 200
			var answered atomic.Int64
			var mu sync.Mutex
			times := map[int]int{}
			stop := make(chan struct{})
			var completer sync.WaitGroup
			completer.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if !m.CompleteNext() {
						time.Sleep(50 * time.Microsecond)
					}
				}
			})
			var wg sync.WaitGroup
			for g := range senders {
				wg.Go(func() {
					buf := make([]byte, 8)
					for i := range each {
						id := g*each + i
						copy(buf, fmt.Sprintf("%08d", id)) // reused buffer
						m.Send(ctx, &producer.Record{Topic: "t", Key: buf, Value: buf}, func(producer.RecordMetadata, error) {
							answered.Add(1)
							mu.Lock()
							times[id]++
							mu.Unlock()
						})
						if i%50 == 0 {
							_ = m.Flush(ctx)
						}
					}
				})
			}
			wg.Wait()
			if err := m.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			close(stop)
			completer.Wait()
			if err := m.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if answered.Load() != senders*each || len(times) != senders*each {
				t.Fatalf("%d answers for %d distinct records, %d sent", answered.Load(), len(times), senders*each)
			}
			seen := map[int32]map[int64]bool{}
			for _, s := range m.History() {
				if s.Err != nil {
					t.Fatalf("record failed: %v", s.Err)
				}
				if string(s.Record.Key) != string(s.Record.Value) || s.Partition != partitioner.KeyPartition(s.Record.Key, 4) {
					t.Fatalf("record %q/%q at partition %d", s.Record.Key, s.Record.Value, s.Partition)
				}
				if seen[s.Partition] == nil {
					seen[s.Partition] = map[int64]bool{}
				}
				if seen[s.Partition][s.Offset] {
					t.Fatalf("offset %d of partition %d given twice", s.Offset, s.Partition)
				}
				seen[s.Partition][s.Offset] = true
			}
			for p, offs := range seen {
				for o := range int64(len(offs)) {
					if !offs[o] {
						t.Fatalf("partition %d: offset %d missing", p, o)
					}
				}
			}
		})
	}
}
