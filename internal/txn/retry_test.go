package txn

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var testID = idempotence.ID{ProducerID: 7, Epoch: 0}

func fakeClient(f *fakeCluster, backoff time.Duration) *Client {
	return newClient(f, Config{TransactionalID: "t", RetryBackoff: backoff, RequestTimeout: time.Second})
}

// TestRetryBackoff checks, in fake time, that each retriable coordinator
// error is retried after exactly the backoff it calls for, and that the
// coordinator is looked up again after NOT_COORDINATOR and
// COORDINATOR_NOT_AVAILABLE.
func TestRetryBackoff(t *testing.T) {
	type call struct {
		name string
		key  kmsg.Key
		do   func(*Client) error
	}
	calls := []call{
		{"InitProducerId", kmsg.InitProducerID, func(c *Client) error {
			_, err := c.InitProducerID(context.Background(), idempotence.None)
			return err
		}},
		{"AddPartitionsToTxn", kmsg.AddPartitionsToTxn, func(c *Client) error {
			return c.AddPartitions(context.Background(), testID, map[string][]int32{"a": {0, 1}, "b": {2}})
		}},
		{"AddOffsetsToTxn", kmsg.AddOffsetsToTxn, func(c *Client) error {
			return c.SendOffsets(context.Background(), testID, map[string]map[int32]Offset{"a": {0: {Offset: 5, LeaderEpoch: -1}}}, GroupMetadata{GroupID: "g", Generation: -1})
		}},
		{"TxnOffsetCommit", kmsg.TxnOffsetCommit, func(c *Client) error {
			return c.SendOffsets(context.Background(), testID, map[string]map[int32]Offset{"a": {0: {Offset: 5, LeaderEpoch: -1}}}, GroupMetadata{GroupID: "g", Generation: -1})
		}},
		{"EndTxn", kmsg.EndTxn, func(c *Client) error {
			_, err := c.EndTxn(context.Background(), testID, true)
			return err
		}},
	}
	errs := []struct {
		err        *kerr.Error
		backoff    time.Duration // per retry with RetryBackoff 100ms
		rediscover bool
	}{
		{kerr.ConcurrentTransactions, 20 * time.Millisecond, false},
		{kerr.CoordinatorLoadInProgress, 100 * time.Millisecond, false},
		{kerr.NotCoordinator, 100 * time.Millisecond, true},
		{kerr.CoordinatorNotAvailable, 100 * time.Millisecond, true},
	}
	const n = 3
	for _, cl := range calls {
		for _, e := range errs {
			t.Run(cl.name+"/"+e.err.Message, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := newFakeCluster(false)
					for range n {
						f.then(cl.key, errCode(e.err.Code))
					}
					c := fakeClient(f, 100*time.Millisecond)
					start := time.Now()
					if err := cl.do(c); err != nil {
						t.Fatalf("%s after %d × %s: %v", cl.name, n, e.err.Message, err)
					}
					if got, want := time.Since(start), n*e.backoff; got != want {
						t.Errorf("took %v, want %v", got, want)
					}
					if got := f.count(cl.key); got != n+1 {
						t.Errorf("%d %s requests, want %d", got, cl.name, n+1)
					}
					finds := 1
					if cl.key == kmsg.TxnOffsetCommit || cl.key == kmsg.AddOffsetsToTxn {
						finds = 2 // the group coordinator too
					}
					if e.rediscover {
						finds += n
					}
					if got := f.count(kmsg.FindCoordinator); got != finds {
						t.Errorf("%d FindCoordinator requests, want %d", got, finds)
					}
				})
			})
		}
	}
}

// TestConcurrentTransactionsBackoffCapped: a RetryBackoff below 20ms is
// used for CONCURRENT_TRANSACTIONS too.
func TestConcurrentTransactionsBackoffCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeCluster(false)
		f.then(kmsg.EndTxn, errCode(kerr.ConcurrentTransactions.Code), errCode(kerr.ConcurrentTransactions.Code))
		c := fakeClient(f, 5*time.Millisecond)
		start := time.Now()
		if _, err := c.EndTxn(context.Background(), testID, false); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 10*time.Millisecond {
			t.Fatalf("took %v, want 10ms", got)
		}
	})
}

// TestCallTimeout: a coordinator that keeps answering a retriable error
// makes the call end with the ctx, as ErrTimeout wrapping the ctx error.
func TestCallTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeCluster(false)
		for range 1000 {
			f.then(kmsg.AddPartitionsToTxn, errCode(kerr.ConcurrentTransactions.Code))
		}
		c := fakeClient(f, 100*time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := c.AddPartitions(ctx, testID, map[string][]int32{"a": {0}})
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
		}
		if errors.Is(err, kerr.ConcurrentTransactions) {
			t.Fatalf("a timeout must not match the last broker error: %v", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("gave up after %v, want 1s", got)
		}
	})
}

// TestAttemptTimeout: an attempt the coordinator never answers ends after
// RequestTimeout; the coordinator is looked up again and the call
// succeeds.
func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeCluster(false)
		f.then(kmsg.AddPartitionsToTxn, hang)
		c := fakeClient(f, 100*time.Millisecond)
		start := time.Now()
		if err := c.AddPartitions(context.Background(), testID, map[string][]int32{"a": {0}}); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(start), time.Second+100*time.Millisecond; got != want {
			t.Fatalf("took %v, want %v", got, want)
		}
		if got := f.count(kmsg.FindCoordinator); got != 2 {
			t.Fatalf("%d FindCoordinator, want 2", got)
		}
	})
}

// TestFinalErrors: errors no retry can fix end the call at once, wrapped
// in the sentinel the producer acts on.
func TestFinalErrors(t *testing.T) {
	for _, tc := range []struct {
		key  kmsg.Key
		step fakeStep
		want []error
	}{
		{kmsg.EndTxn, errCode(kerr.ProducerFenced.Code), []error{ErrFenced, kerr.ProducerFenced}},
		{kmsg.EndTxn, errCode(kerr.InvalidProducerEpoch.Code), []error{ErrFenced, kerr.InvalidProducerEpoch}},
		{kmsg.EndTxn, errCode(kerr.TransactionalIDAuthorizationFailed.Code), []error{ErrFenced}},
		{kmsg.EndTxn, errCode(kerr.InvalidTxnState.Code), []error{ErrFatal, kerr.InvalidTxnState}},
		{kmsg.EndTxn, errCode(kerr.TransactionAbortable.Code), []error{ErrAbortable}},
		{kmsg.EndTxn, errCode(kerr.UnknownServerError.Code), []error{ErrFatal}},
		{kmsg.EndTxn, fail(wire.ErrPoolClosed), []error{ErrFatal, wire.ErrPoolClosed}},
		{kmsg.EndTxn, fail(fmt.Errorf("%w: EndTxn", wire.ErrUnsupportedVersion)), []error{ErrFatal, wire.ErrUnsupportedVersion}},
		{kmsg.AddPartitionsToTxn, errCode(kerr.TopicAuthorizationFailed.Code), []error{ErrAbortable, kerr.TopicAuthorizationFailed}},
		{kmsg.AddPartitionsToTxn, errCode(kerr.InvalidProducerIDMapping.Code), []error{ErrFatal}},
		{kmsg.AddPartitionsToTxn, errCode(kerr.ProducerFenced.Code), []error{ErrFenced}},
		{kmsg.InitProducerID, errCode(kerr.InvalidTransactionTimeout.Code), []error{ErrFatal, kerr.InvalidTransactionTimeout}},
		{kmsg.InitProducerID, errCode(kerr.TransactionalIDAuthorizationFailed.Code), []error{ErrFenced}},
		{kmsg.FindCoordinator, errCode(kerr.TransactionalIDAuthorizationFailed.Code), []error{ErrFenced}},
		{kmsg.AddOffsetsToTxn, errCode(kerr.GroupAuthorizationFailed.Code), []error{ErrAbortable}},
		{kmsg.TxnOffsetCommit, errCode(kerr.UnknownMemberID.Code), []error{ErrAbortable, kerr.UnknownMemberID}},
		{kmsg.TxnOffsetCommit, errCode(kerr.IllegalGeneration.Code), []error{ErrAbortable, kerr.IllegalGeneration}},
		{kmsg.TxnOffsetCommit, errCode(kerr.FencedInstanceID.Code), []error{ErrAbortable, kerr.FencedInstanceID}},
		{kmsg.TxnOffsetCommit, errCode(kerr.InvalidProducerEpoch.Code), []error{ErrFenced}},
		{kmsg.TxnOffsetCommit, errCode(kerr.InvalidTxnState.Code), []error{ErrFatal}},
	} {
		var name string
		if r := kmsg.RequestForKey(tc.key.Int16()); r != nil {
			name = kmsg.NameForKey(tc.key.Int16())
		}
		t.Run(fmt.Sprintf("%s/%v", name, tc.want[len(tc.want)-1]), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeCluster(false)
				f.then(tc.key, tc.step)
				c := fakeClient(f, 100*time.Millisecond)
				ctx := context.Background()
				var err error
				switch tc.key {
				case kmsg.EndTxn:
					_, err = c.EndTxn(ctx, testID, true)
				case kmsg.AddPartitionsToTxn:
					err = c.AddPartitions(ctx, testID, map[string][]int32{"a": {0}})
				case kmsg.InitProducerID, kmsg.FindCoordinator:
					_, err = c.InitProducerID(ctx, idempotence.None)
				case kmsg.AddOffsetsToTxn, kmsg.TxnOffsetCommit:
					err = c.SendOffsets(ctx, testID, map[string]map[int32]Offset{"a": {0: {Offset: 1, LeaderEpoch: -1}}}, GroupMetadata{GroupID: "g", Generation: 3, MemberID: "m"})
				}
				for _, w := range tc.want {
					if !errors.Is(err, w) {
						t.Fatalf("err = %v, does not match %v", err, w)
					}
				}
				if got := f.count(tc.key); got != 1 {
					t.Fatalf("%d requests, want 1 (no retry)", got)
				}
			})
		})
	}
}

// TestEndTxnLostResponseSettled pins down a commit whose first response
// was lost and whose retry the coordinator answers INVALID_TXN_STATE: the
// transaction's state decides.
func TestEndTxnLostResponseSettled(t *testing.T) {
	lost := fail(fmt.Errorf("%w: read: connection reset", wire.ErrClosed))
	invalid := errCode(kerr.InvalidTxnState.Code)
	for _, tc := range []struct {
		name     string
		commit   bool
		describe []fakeStep
		want     []error // nil: success
		extra    time.Duration
	}{
		{"committed", true, []fakeStep{describeState(stateCompleteCommit, 7, 0)}, nil, 0},
		{"aborted", false, []fakeStep{describeState(stateCompleteAbort, 7, 0)}, nil, 0},
		{"still committing", true, []fakeStep{describeState(statePrepareCommit, 7, 0), describeState(stateCompleteCommit, 7, 0)}, nil, 20 * time.Millisecond},
		{"coordinator aborted the commit", true, []fakeStep{describeState(stateCompleteAbort, 7, 0)}, []error{ErrAbortable, ErrAborted, kerr.InvalidTxnState}, 0},
		{"abort found committed", false, []fakeStep{describeState(stateCompleteCommit, 7, 0)}, []error{ErrFatal, kerr.InvalidTxnState}, 0},
		{"empty", true, []fakeStep{describeState("Empty", 7, 0)}, []error{ErrFatal, kerr.InvalidTxnState}, 0},
		{"describe unsupported", true, []fakeStep{fail(wire.ErrUnsupportedVersion)}, []error{ErrFatal}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeCluster(false)
				f.then(kmsg.EndTxn, lost)
				for range tc.describe {
					f.then(kmsg.EndTxn, invalid)
				}
				f.then(kmsg.DescribeTransactions, tc.describe...)
				c := fakeClient(f, 100*time.Millisecond)
				start := time.Now()
				next, err := c.EndTxn(context.Background(), testID, tc.commit)
				if tc.want == nil {
					if err != nil || next != testID {
						t.Fatalf("EndTxn = %v, %v; want %v, nil", next, err, testID)
					}
					// The lost response costs one backoff; each
					// PrepareCommit one short one.
					if got, want := time.Since(start), 100*time.Millisecond+tc.extra; got != want {
						t.Fatalf("took %v, want %v", got, want)
					}
					return
				}
				for _, w := range tc.want {
					if !errors.Is(err, w) {
						t.Fatalf("err = %v, does not match %v", err, w)
					}
				}
			})
		})
	}
}

// TestEndTxnInvalidStateWithoutLostResponse: INVALID_TXN_STATE on a first
// attempt is an out-of-order call (fatal), unless the coordinator holds a
// newer epoch or another producer id: then this producer was fenced.
func TestEndTxnInvalidStateWithoutLostResponse(t *testing.T) {
	for _, tc := range []struct {
		name     string
		describe fakeStep
		want     error
	}{
		{"same epoch", describeState("Empty", testID.ProducerID, testID.Epoch), ErrFatal},
		{"newer epoch", describeState("Empty", testID.ProducerID, testID.Epoch+1), ErrFenced},
		{"other producer id", describeState("Ongoing", testID.ProducerID+1, 0), ErrFenced},
		{"not described", func(_ context.Context, req kmsg.Request) (kmsg.Response, error) { return req.ResponseKind(), nil }, ErrFatal},
		{"describe fails", errCode(kerr.TransactionalIDAuthorizationFailed.Code), ErrFatal},
		{"describe unsupported", fail(wire.ErrUnsupportedVersion), ErrFatal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeCluster(false)
				f.then(kmsg.EndTxn, errCode(kerr.InvalidTxnState.Code))
				f.then(kmsg.DescribeTransactions, tc.describe)
				c := fakeClient(f, time.Millisecond)
				_, err := c.EndTxn(context.Background(), testID, true)
				if !errors.Is(err, tc.want) || !errors.Is(err, kerr.InvalidTxnState) {
					t.Fatalf("err = %v, want %v wrapping INVALID_TXN_STATE", err, tc.want)
				}
				if n := f.count(kmsg.EndTxn); n != 1 {
					t.Fatalf("%d EndTxn, want 1", n)
				}
			})
		})
	}
}

// TestEndTxnRetryAfterTimeout: an EndTxn cut short by its ctx after the
// request went out is made again by the producer; the second call counts
// the first as unanswered.
func TestEndTxnRetryAfterTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeCluster(false)
		f.then(kmsg.EndTxn, hang, errCode(kerr.InvalidTxnState.Code))
		f.then(kmsg.DescribeTransactions, describeState(stateCompleteCommit, 7, 0))
		c := fakeClient(f, time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := c.EndTxn(ctx, testID, true)
		cancel()
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("first call: %v, want ErrTimeout", err)
		}
		if _, err := c.EndTxn(context.Background(), testID, true); err != nil {
			t.Fatalf("retried call: %v", err)
		}
		// A different decision is not a retry of the unanswered one.
		f.then(kmsg.EndTxn, hang, errCode(kerr.InvalidTxnState.Code))
		ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, _ = c.EndTxn(ctx, testID, true)
		cancel()
		if _, err := c.EndTxn(context.Background(), testID, false); !errors.Is(err, ErrFatal) {
			t.Fatalf("abort after an unanswered commit: %v, want ErrFatal", err)
		}
	})
}

// TestV2EpochFromEndTxn: with transactions v2, EndTxn v5 returns the next
// epoch; classic keeps the id.
func TestV2EpochFromEndTxn(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeCluster(v2)
				c := fakeClient(f, time.Millisecond)
				id, err := c.InitProducerID(context.Background(), idempotence.None)
				if err != nil {
					t.Fatal(err)
				}
				if c.V2() != v2 {
					t.Fatalf("V2() = %v, want %v", c.V2(), v2)
				}
				next, err := c.EndTxn(context.Background(), id, true)
				if err != nil {
					t.Fatal(err)
				}
				want := id
				if v2 {
					want.Epoch++
				}
				if next != want {
					t.Fatalf("next id %v, want %v", next, want)
				}
				var endVersion int16 = -1
				for _, r := range f.sent {
					if r.Key() == kmsg.EndTxn.Int16() {
						endVersion = r.GetVersion()
					}
				}
				if wantV := map[bool]int16{false: 3, true: 5}[v2]; endVersion != wantV {
					t.Fatalf("EndTxn v%d, want v%d", endVersion, wantV)
				}
			})
		})
	}
}

// TestV2NeedsFeature: a broker offering EndTxn v5 while the cluster runs
// the classic protocol (transaction.version below 2) is not v2, and EndTxn
// then stays at v4.
func TestV2NeedsFeature(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeCluster(true)
		f.txnLevel = 1
		c := fakeClient(f, time.Millisecond)
		id, err := c.InitProducerID(context.Background(), idempotence.None)
		if err != nil || c.V2() {
			t.Fatalf("InitProducerID: %v, V2 %v; want nil, false", err, c.V2())
		}
		if next, err := c.EndTxn(context.Background(), id, true); err != nil || next != id {
			t.Fatalf("EndTxn = %v, %v", next, err)
		}
		for _, r := range f.sent {
			if r.Key() == kmsg.EndTxn.Int16() && r.GetVersion() != 4 {
				t.Fatalf("EndTxn v%d, want v4", r.GetVersion())
			}
		}
	})
}

// TestSendOffsetsV2SkipsAddOffsets: with v2 and TxnOffsetCommit v5 the
// group joins implicitly; otherwise AddOffsetsToTxn goes first.
func TestSendOffsetsV2SkipsAddOffsets(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeCluster(v2)
				c := fakeClient(f, time.Millisecond)
				id, err := c.InitProducerID(context.Background(), idempotence.None)
				if err != nil {
					t.Fatal(err)
				}
				offs := map[string]map[int32]Offset{"b": {1: {Offset: 9, LeaderEpoch: 2}}, "a": {2: {Offset: 3, LeaderEpoch: -1}, 0: {Offset: 4, LeaderEpoch: -1}}}
				if err := c.SendOffsets(context.Background(), id, offs, GroupMetadata{GroupID: "g", Generation: 4, MemberID: "m"}); err != nil {
					t.Fatal(err)
				}
				wantAdds := 1
				if v2 {
					wantAdds = 0
				}
				if got := f.count(kmsg.AddOffsetsToTxn); got != wantAdds {
					t.Fatalf("%d AddOffsetsToTxn, want %d", got, wantAdds)
				}
				var req *kmsg.TxnOffsetCommitRequest
				for _, r := range f.sent {
					if r, ok := r.(*kmsg.TxnOffsetCommitRequest); ok {
						req = r
					}
				}
				if req == nil || req.Generation != 4 || req.MemberID != "m" || len(req.Topics) != 2 ||
					req.Topics[0].Topic != "a" || req.Topics[0].Partitions[0].Partition != 0 || req.Topics[1].Partitions[0].LeaderEpoch != 2 {
					t.Fatalf("TxnOffsetCommit request %+v", req)
				}
			})
		})
	}
}

// TestPartialAddPartitions: partitions the coordinator added are not
// asked for again; only the rest are.
func TestPartialAddPartitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeCluster(false)
		f.then(kmsg.AddPartitionsToTxn, func(_ context.Context, req kmsg.Request) (kmsg.Response, error) {
			resp := (&fakeCluster{}).answer(req, 1).(*kmsg.AddPartitionsToTxnResponse)
			for i := range resp.Topics {
				for j := range resp.Topics[i].Partitions {
					if resp.Topics[i].Topic == "b" {
						resp.Topics[i].Partitions[j].ErrorCode = kerr.UnknownTopicOrPartition.Code
					}
				}
			}
			return resp, nil
		})
		c := fakeClient(f, time.Millisecond)
		if err := c.AddPartitions(context.Background(), testID, map[string][]int32{"a": {0, 1}, "b": {4}}); err != nil {
			t.Fatal(err)
		}
		var last *kmsg.AddPartitionsToTxnRequest
		for _, r := range f.sent {
			if r, ok := r.(*kmsg.AddPartitionsToTxnRequest); ok {
				last = r
				if r.Version != 3 {
					t.Fatalf("AddPartitionsToTxn v%d, want v3", r.Version)
				}
			}
		}
		if len(last.Topics) != 1 || last.Topics[0].Topic != "b" || len(last.Topics[0].Partitions) != 1 {
			t.Fatalf("retry asked for %+v, want only b[4]", last.Topics)
		}
	})
}

func TestInvalidInput(t *testing.T) {
	f := newFakeCluster(false)
	c := fakeClient(f, time.Millisecond)
	ctx := context.Background()
	for name, err := range map[string]error{
		"none id":        c.AddPartitions(ctx, idempotence.None, map[string][]int32{"a": {0}}),
		"empty topic":    c.AddPartitions(ctx, testID, map[string][]int32{"": {0}}),
		"neg partition":  c.AddPartitions(ctx, testID, map[string][]int32{"a": {-1}}),
		"empty group":    c.SendOffsets(ctx, testID, map[string]map[int32]Offset{"a": {0: {}}}, GroupMetadata{}),
		"offsets topic":  c.SendOffsets(ctx, testID, map[string]map[int32]Offset{"": {0: {}}}, GroupMetadata{GroupID: "g"}),
		"neg epoch":      func() error { _, err := c.EndTxn(ctx, idempotence.ID{ProducerID: 1, Epoch: -1}, true); return err }(),
		"offsets negpar": c.SendOffsets(ctx, testID, map[string]map[int32]Offset{"a": {-3: {}}}, GroupMetadata{GroupID: "g"}),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	if len(f.sent) != 0 {
		t.Fatalf("invalid calls sent %d requests", len(f.sent))
	}
	// Nothing to do is not an error and sends nothing.
	if err := c.AddPartitions(ctx, testID, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.SendOffsets(ctx, testID, map[string]map[int32]Offset{"a": {}}, GroupMetadata{GroupID: "g"}); err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 0 {
		t.Fatalf("empty calls sent %d requests", len(f.sent))
	}
}

func TestInvalidConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no id":        {},
		"neg timeout":  {TransactionalID: "t", Timeout: -1},
		"tiny timeout": {TransactionalID: "t", Timeout: time.Microsecond},
		"huge timeout": {TransactionalID: "t", Timeout: 1 << 62},
		"neg request":  {TransactionalID: "t", RequestTimeout: -time.Second},
		"neg backoff":  {TransactionalID: "t", RetryBackoff: -time.Second},
	} {
		f := newFakeCluster(false)
		c := newClient(f, cfg)
		if _, err := c.InitProducerID(context.Background(), idempotence.None); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
		if len(f.sent) != 0 {
			t.Errorf("%s: sent requests", name)
		}
	}
	if _, err := NewClient(nil, Config{TransactionalID: "t"}).EndTxn(context.Background(), testID, true); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil pool: %v", err)
	}
	if err := (Config{TransactionalID: "t"}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestCoordinatorTracking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeCluster(false)
		c := fakeClient(f, time.Millisecond)
		if got := c.Coordinator(); got != -1 {
			t.Fatalf("Coordinator() before any call = %d, want -1", got)
		}
		if _, err := c.InitProducerID(context.Background(), idempotence.None); err != nil {
			t.Fatal(err)
		}
		if got := c.Coordinator(); got != 1 {
			t.Fatalf("Coordinator() = %d, want 1", got)
		}
		// The coordinator moves: the old one answers NOT_COORDINATOR.
		f.mu.Lock()
		f.coord = 2
		f.mu.Unlock()
		f.then(kmsg.EndTxn, errCode(kerr.NotCoordinator.Code))
		if _, err := c.EndTxn(context.Background(), testID, false); err != nil {
			t.Fatal(err)
		}
		if got := c.Coordinator(); got != 2 {
			t.Fatalf("Coordinator() after the move = %d, want 2", got)
		}
	})
}
