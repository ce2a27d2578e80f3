package txn_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/txn"
	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// parts is what every transaction in these tests writes to.
var parts = map[string][]int32{"a": {0, 1}, "b": {2}}

// begin starts a transaction's writes: the classic flow adds the
// partitions first; v2 lets Produce add them.
func begin(t *testing.T, ctx context.Context, c *txn.Client, p *producer) {
	t.Helper()
	if !c.V2() {
		if err := c.AddPartitions(ctx, p.id, parts); err != nil {
			t.Fatalf("AddPartitions: %v", err)
		}
	}
}

// writeAll produces n values named prefix-... to every partition of
// parts and returns them.
func writeAll(ctx context.Context, p *producer, prefix string, n int) []string {
	var all []string
	for topic, ps := range parts {
		for _, partition := range ps {
			vs := values(prefix, topic, partition, n)
			p.produce(ctx, topic, partition, vs...)
			all = append(all, vs...)
		}
	}
	return all
}

func end(t *testing.T, ctx context.Context, c *txn.Client, p *producer, commit bool) {
	t.Helper()
	before := p.id
	next, err := c.EndTxn(ctx, p.id, commit)
	if err != nil {
		t.Fatalf("EndTxn(commit=%v): %v", commit, err)
	}
	want := before
	if c.V2() {
		want.Epoch++
	}
	if next != want {
		t.Fatalf("EndTxn returned %v, want %v", next, want)
	}
	p.setID(next)
}

// TestCommitAbortCommit runs commit, abort, commit in both flows: a
// read_committed consumer sees the committed transactions' records and
// none of the aborted one's.
func TestCommitAbortCommit(t *testing.T) {
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f)
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			c, id := initClient(t, ctx, pool, "tx-"+f.name)
			if c.V2() != f.v2 {
				t.Fatalf("V2() = %v, want %v", c.V2(), f.v2)
			}
			if c.Coordinator() != cl.CoordinatorFor("tx-"+f.name) {
				t.Fatalf("Coordinator() = %d, cluster says %d", c.Coordinator(), cl.CoordinatorFor("tx-"+f.name))
			}
			p := newProducer(t, cl, pool, "tx-"+f.name, id)

			begin(t, ctx, c, p)
			want := writeAll(ctx, p, "t1", 3)
			end(t, ctx, c, p, true)

			begin(t, ctx, c, p)
			aborted := writeAll(ctx, p, "t2", 2)
			end(t, ctx, c, p, false)

			begin(t, ctx, c, p)
			want = append(want, writeAll(ctx, p, "t3", 1)...)
			end(t, ctx, c, p, true)

			slices.Sort(want)
			got := readCommitted(t, cl, len(want), "a", "b")
			if !slices.Equal(got, want) {
				t.Fatalf("read_committed saw %v\nwant %v", got, want)
			}
			for _, v := range aborted {
				if slices.Contains(got, v) {
					t.Fatalf("aborted record %q visible", v)
				}
			}
		})
	}
}

// TestAbortThenNothingVisible: an aborted transaction alone leaves
// nothing for read_committed, checked through the committed offsets'
// absence rather than by waiting.
func TestAbortedOnlyInvisible(t *testing.T) {
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f)
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			c, id := initClient(t, ctx, pool, "abort-"+f.name)
			p := newProducer(t, cl, pool, "abort-"+f.name, id)
			begin(t, ctx, c, p)
			writeAll(ctx, p, "gone", 2)
			end(t, ctx, c, p, false)
			// A plain committed marker transaction after it: only
			// its records show up.
			begin(t, ctx, c, p)
			want := writeAll(ctx, p, "kept", 1)
			end(t, ctx, c, p, true)
			slices.Sort(want)
			if got := readCommitted(t, cl, len(want), "a", "b"); !slices.Equal(got, want) {
				t.Fatalf("read_committed saw %v, want %v", got, want)
			}
		})
	}
}

// TestZombieFenced: a second client with the same transactional id fences
// the first, whose later calls fail with ErrFenced; the open transaction
// of the first is aborted.
func TestZombieFenced(t *testing.T) {
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f)
			ctx := testCtx(t)
			const txnID = "zombie"
			pool1, pool2 := newPool(t, cl, nil), newPool(t, cl, nil)
			c1, c2 := newClient(pool1, txnID), newClient(pool2, txnID)
			id1, err := c1.InitProducerID(ctx, idempotence.None)
			if err != nil {
				t.Fatal(err)
			}
			p1 := newProducer(t, cl, pool1, txnID, id1)
			begin(t, ctx, c1, p1)
			writeAll(ctx, p1, "zombie", 1)

			id2, err := c2.InitProducerID(ctx, idempotence.None)
			if err != nil {
				t.Fatal(err)
			}
			if id2.ProducerID != id1.ProducerID || id2.Epoch <= id1.Epoch {
				t.Fatalf("second init got %v after %v, want a bumped epoch", id2, id1)
			}
			if err := c1.AddPartitions(ctx, id1, map[string][]int32{"b": {0}}); !errors.Is(err, txn.ErrFenced) {
				t.Fatalf("zombie AddPartitions: %v, want ErrFenced", err)
			}
			if _, err := c1.EndTxn(ctx, id1, true); !errors.Is(err, txn.ErrFenced) {
				t.Fatalf("zombie EndTxn(commit): %v, want ErrFenced", err)
			}
			if err := c1.SendOffsets(ctx, id1, map[string]map[int32]txn.Offset{"a": {0: {Offset: 1, LeaderEpoch: -1}}}, txn.GroupMetadata{GroupID: "zg", Generation: -1}); !errors.Is(err, txn.ErrFenced) {
				t.Fatalf("zombie SendOffsets: %v, want ErrFenced", err)
			}
			if err := p1.tryProduce(ctx, "a", 0, "late"); err == nil {
				t.Fatal("zombie produce accepted")
			}

			p2 := newProducer(t, cl, pool2, txnID, id2)
			begin(t, ctx, c2, p2)
			want := writeAll(ctx, p2, "new", 1)
			end(t, ctx, c2, p2, true)
			slices.Sort(want)
			if got := readCommitted(t, cl, len(want), "a", "b"); !slices.Equal(got, want) {
				t.Fatalf("read_committed saw %v, want %v", got, want)
			}
		})
	}
}

// TestInjectedCoordinatorErrors fails each coordinator request a few
// times with each retriable coordinator error; every call must retry and
// the transaction commit.
func TestInjectedCoordinatorErrors(t *testing.T) {
	errs := []*kerr.Error{kerr.ConcurrentTransactions, kerr.NotCoordinator, kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress}
	type target struct {
		key      kmsg.Key
		topLevel bool
		group    bool // FindCoordinator of the group rather than the txn id
	}
	targets := []target{
		{key: kmsg.FindCoordinator},
		{key: kmsg.FindCoordinator, group: true},
		{key: kmsg.InitProducerID, topLevel: true},
		{key: kmsg.AddPartitionsToTxn},
		{key: kmsg.AddOffsetsToTxn, topLevel: true},
		{key: kmsg.TxnOffsetCommit},
		{key: kmsg.EndTxn, topLevel: true},
	}
	for _, f := range flows {
		for _, tg := range targets {
			if f.v2 && (tg.key == kmsg.AddPartitionsToTxn || tg.key == kmsg.AddOffsetsToTxn) {
				continue // v2 sends neither
			}
			for _, e := range errs {
				name := fmt.Sprintf("%s/%s/%s", f.name, kmsg.NameForKey(tg.key.Int16()), e.Message)
				if tg.group {
					name = fmt.Sprintf("%s/FindCoordinator(group)/%s", f.name, e.Message)
				}
				t.Run(name, func(t *testing.T) {
					cl := newCluster(t, f)
					pool := newPool(t, cl, nil)
					ctx := testCtx(t)
					const txnID, group = "inject", "inject-group"
					fault := kfake.Fault{Keys: []kmsg.Key{tg.key}, Err: e, Count: 3, TopLevel: tg.topLevel}
					switch {
					case tg.group:
						fault.Group = group
					case tg.key == kmsg.FindCoordinator:
						fault.TxnID = txnID
					}
					h := cl.Fault(fault)
					c := newClient(pool, txnID)
					id, err := c.InitProducerID(ctx, idempotence.None)
					if err != nil {
						t.Fatalf("InitProducerID: %v", err)
					}
					p := newProducer(t, cl, pool, txnID, id)
					begin(t, ctx, c, p)
					want := writeAll(ctx, p, "x", 1)
					offs := map[string]map[int32]txn.Offset{"a": {0: {Offset: 11, LeaderEpoch: -1}}}
					if err := c.SendOffsets(ctx, p.id, offs, txn.GroupMetadata{GroupID: group, Generation: -1}); err != nil {
						t.Fatalf("SendOffsets: %v", err)
					}
					end(t, ctx, c, p, true)
					if h.Hits() != 3 {
						t.Fatalf("fault answered %d requests, want 3", h.Hits())
					}
					slices.Sort(want)
					if got := readCommitted(t, cl, len(want), "a", "b"); !slices.Equal(got, want) {
						t.Fatalf("read_committed saw %v, want %v", got, want)
					}
					if got, err := offsetFetch(t, ctx, pool, group, "a", 0); err != nil || got[0] != 11 {
						t.Fatalf("committed offsets %v, %v; want a[0]=11", got, err)
					}
				})
			}
		}
	}
}

// TestCoordinatorMoved: the coordinators move between calls; the client
// follows them.
func TestCoordinatorMoved(t *testing.T) {
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f)
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			const txnID, group = "mover", "mover-group"
			c, id := initClient(t, ctx, pool, txnID)
			p := newProducer(t, cl, pool, txnID, id)
			move := func() {
				t.Helper()
				before := cl.CoordinatorFor(txnID)
				for i := 0; cl.CoordinatorFor(txnID) == before; i++ {
					if i == 100 {
						t.Fatal("coordinator never moved")
					}
					cl.RehashCoordinators()
				}
			}

			move()
			begin(t, ctx, c, p)
			want := writeAll(ctx, p, "m", 1)
			move()
			offs := map[string]map[int32]txn.Offset{"b": {1: {Offset: 5, LeaderEpoch: -1}}}
			if err := c.SendOffsets(ctx, p.id, offs, txn.GroupMetadata{GroupID: group, Generation: -1}); err != nil {
				t.Fatal(err)
			}
			move()
			end(t, ctx, c, p, true)
			if got, want := c.Coordinator(), cl.CoordinatorFor(txnID); got != want {
				t.Fatalf("Coordinator() = %d, cluster says %d", got, want)
			}
			slices.Sort(want)
			if got := readCommitted(t, cl, len(want), "a", "b"); !slices.Equal(got, want) {
				t.Fatalf("read_committed saw %v, want %v", got, want)
			}
			if got, err := offsetFetch(t, ctx, pool, group, "b", 1); err != nil || got[1] != 5 {
				t.Fatalf("committed offsets %v, %v; want b[1]=5", got, err)
			}
		})
	}
}

// TestLostEndTxnResponse: the broker commits, then the connection breaks
// before the client reads the answer. The client retries with the same
// decision and reports success, with the epoch the one commit bumped to.
func TestLostEndTxnResponse(t *testing.T) {
	for _, f := range flows {
		for _, commit := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/commit=%v", f.name, commit), func(t *testing.T) {
				cl := newCluster(t, f)
				// The EndTxn after Arm loses its answer: the broker acts on
				// it, then the connection breaks before the client reads.
				d := &kafkatest.LossyDialer{Key: kmsg.EndTxn.Int16()}
				pool := newPool(t, cl, &wire.Config{Dial: d.Dial})
				ctx := testCtx(t)
				const txnID = "lossy"
				c, id := initClient(t, ctx, pool, txnID)
				ends := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Observe: true, Count: -1})
				p := newProducer(t, cl, pool, txnID, id)
				begin(t, ctx, c, p)
				first := writeAll(ctx, p, "once", 2)
				d.Arm()
				end(t, ctx, c, p, commit) // checks the epoch moved by exactly one in v2
				if d.Dropped() != 1 {
					t.Fatalf("%d responses dropped, want 1", d.Dropped())
				}
				if n := ends.Hits(); n != 2 {
					t.Fatalf("%d EndTxn requests, want 2 (the lost one and its retry)", n)
				}
				// The next transaction works with the returned id.
				begin(t, ctx, c, p)
				second := writeAll(ctx, p, "next", 1)
				end(t, ctx, c, p, true)
				want := second
				if commit {
					want = append(want, first...)
				}
				slices.Sort(want)
				if got := readCommitted(t, cl, len(want), "a", "b"); !slices.Equal(got, want) {
					t.Fatalf("read_committed saw %v, want %v", got, want)
				}
			})
		}
	}
}

// TestEndTxnSentTwice: the same EndTxn sent twice (as after a lost
// response): the second call is a success too, and returns the same id.
func TestEndTxnSentTwice(t *testing.T) {
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f)
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			c, id := initClient(t, ctx, pool, "twice")
			p := newProducer(t, cl, pool, "twice", id)
			begin(t, ctx, c, p)
			want := writeAll(ctx, p, "dup", 1)
			next1, err := c.EndTxn(ctx, id, true)
			if err != nil {
				t.Fatal(err)
			}
			next2, err := c.EndTxn(ctx, id, true)
			if err != nil {
				t.Fatalf("second EndTxn: %v", err)
			}
			if next1 != next2 {
				t.Fatalf("ids %v and %v differ", next1, next2)
			}
			// The opposite decision is refused: the transaction
			// committed.
			if _, err := c.EndTxn(ctx, id, false); err == nil {
				t.Fatal("abort of a committed transaction succeeded")
			}
			slices.Sort(want)
			if got := readCommitted(t, cl, len(want), "a", "b"); !slices.Equal(got, want) {
				t.Fatalf("read_committed saw %v, want %v", got, want)
			}
		})
	}
}

// TestSendOffsetsVisibility: offsets committed in a transaction are
// visible to OffsetFetch (RequireStable) only after the commit, and an
// aborted transaction's offsets never.
func TestSendOffsetsVisibility(t *testing.T) {
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f)
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			const txnID, group = "offsets", "consumers"
			c, id := initClient(t, ctx, pool, txnID)
			p := newProducer(t, cl, pool, txnID, id)
			meta := txn.GroupMetadata{GroupID: group, Generation: -1}
			send := func(off int64) {
				t.Helper()
				offs := map[string]map[int32]txn.Offset{"a": {0: {Offset: off, LeaderEpoch: -1}, 2: {Offset: off + 1, LeaderEpoch: -1}}}
				if err := c.SendOffsets(ctx, p.id, offs, meta); err != nil {
					t.Fatalf("SendOffsets: %v", err)
				}
			}

			send(42)
			if got, err := offsetFetch(t, ctx, pool, group, "a", 0, 2); err == nil {
				t.Fatalf("offsets visible before commit: %v", got)
			}
			end(t, ctx, c, p, true)
			if got, err := offsetFetch(t, ctx, pool, group, "a", 0, 2); err != nil || got[0] != 42 || got[2] != 43 {
				t.Fatalf("after commit: %v, %v; want 42 and 43", got, err)
			}

			send(50)
			if _, err := offsetFetch(t, ctx, pool, group, "a", 0, 2); !errors.Is(err, kerr.UnstableOffsetCommit) {
				t.Fatalf("pending offsets: %v, want UNSTABLE_OFFSET_COMMIT", err)
			}
			end(t, ctx, c, p, false)
			if got, err := offsetFetch(t, ctx, pool, group, "a", 0, 2); err != nil || got[0] != 42 || got[2] != 43 {
				t.Fatalf("after abort: %v, %v; want 42 and 43 still", got, err)
			}
		})
	}
}

// TestOffsetCommitRefused: per-partition TxnOffsetCommit errors meaning
// the consumer lost its membership make the transaction abortable; the
// abort then works and the next transaction commits.
func TestOffsetCommitRefused(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.FencedInstanceID, kerr.GroupAuthorizationFailed} {
		t.Run(e.Message, func(t *testing.T) {
			f := flows[1] // classic: the group joins through AddOffsetsToTxn
			cl := newCluster(t, f)
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			c, id := initClient(t, ctx, pool, "refused")
			p := newProducer(t, cl, pool, "refused", id)
			cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: e, Topic: "a"})
			offs := map[string]map[int32]txn.Offset{"a": {0: {Offset: 3, LeaderEpoch: -1}}}
			err := c.SendOffsets(ctx, p.id, offs, txn.GroupMetadata{GroupID: "g", Generation: 5, MemberID: "m"})
			if !errors.Is(err, txn.ErrAbortable) || !errors.Is(err, e) {
				t.Fatalf("SendOffsets: %v, want ErrAbortable wrapping %v", err, e)
			}
			end(t, ctx, c, p, false)
			begin(t, ctx, c, p)
			writeAll(ctx, p, "after", 1)
			end(t, ctx, c, p, true)
		})
	}
}

// TestAddPartitionsRefused: a partition the producer may not write makes
// AddPartitions abortable; the partitions OPERATION_NOT_ATTEMPTED are not
// the cause.
func TestAddPartitionsRefused(t *testing.T) {
	cl := newCluster(t, flows[1])
	pool := newPool(t, cl, nil)
	ctx := testCtx(t)
	c, id := initClient(t, ctx, pool, "denied")
	cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.AddPartitionsToTxn}, Err: kerr.TopicAuthorizationFailed, Topic: "b", Partitions: []int32{2}})
	err := c.AddPartitions(ctx, id, parts)
	if !errors.Is(err, txn.ErrAbortable) || !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("AddPartitions: %v, want ErrAbortable wrapping TOPIC_AUTHORIZATION_FAILED", err)
	}
	if errors.Is(err, kerr.OperationNotAttempted) {
		t.Fatalf("error names the partitions not attempted: %v", err)
	}
}

// TestUnknownPartitionTimesOut: a partition that does not exist is
// retriable (it may be being created); the call ends with its ctx.
func TestUnknownPartitionTimesOut(t *testing.T) {
	cl := newCluster(t, flows[1])
	pool := newPool(t, cl, nil)
	c := newClient(pool, "unknown")
	id, err := c.InitProducerID(testCtx(t), idempotence.None)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = c.AddPartitions(ctx, id, map[string][]int32{"nope": {0}})
	if !errors.Is(err, txn.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AddPartitions: %v, want ErrTimeout", err)
	}
}

// TestInitBumpsCurrentEpoch: InitProducerID with the current id bumps its
// epoch (used after an abort that must reset producer state).
func TestInitBumpsCurrentEpoch(t *testing.T) {
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f)
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			c, id := initClient(t, ctx, pool, "bump")
			bumped, err := c.InitProducerID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if bumped.ProducerID != id.ProducerID || bumped.Epoch != id.Epoch+1 {
				t.Fatalf("bumped %v to %v", id, bumped)
			}
			// An epoch from the future is refused.
			future := idempotence.ID{ProducerID: id.ProducerID, Epoch: bumped.Epoch + 5}
			if _, err := c.InitProducerID(ctx, future); !errors.Is(err, txn.ErrFenced) {
				t.Fatalf("InitProducerID(future epoch): %v, want ErrFenced", err)
			}
		})
	}
}

// TestFatalInjected: errors that end the producer are not retried.
func TestFatalInjected(t *testing.T) {
	for _, tc := range []struct {
		err  *kerr.Error
		want error
	}{
		{kerr.ProducerFenced, txn.ErrFenced},
		{kerr.InvalidProducerEpoch, txn.ErrFenced},
		{kerr.TransactionalIDAuthorizationFailed, txn.ErrFenced},
		{kerr.InvalidProducerIDMapping, txn.ErrFatal},
	} {
		t.Run(tc.err.Message, func(t *testing.T) {
			cl := newCluster(t, flows[0])
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			c, id := initClient(t, ctx, pool, "fatal")
			h := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: tc.err, TopLevel: true, Count: -1})
			if _, err := c.EndTxn(ctx, id, false); !errors.Is(err, tc.want) || !errors.Is(err, tc.err) {
				t.Fatalf("EndTxn: %v, want %v wrapping %v", err, tc.want, tc.err)
			}
			if h.Hits() != 1 {
				t.Fatalf("%d EndTxn requests, want 1", h.Hits())
			}
		})
	}
}

// TestVersionsSent pins the request versions each flow uses: the classic
// flow never sends EndTxn v5 (which would bump the epoch), AddPartitionsToTxn
// stays at the client form (v3 and below), TxnOffsetCommit below v6 (topic
// ids), and v2 adds the group implicitly with TxnOffsetCommit v5.
func TestVersionsSent(t *testing.T) {
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f)
			var mu sync.Mutex
			seen := make(map[kmsg.Key][]int16)
			for _, k := range []kmsg.Key{kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.TxnOffsetCommit, kmsg.EndTxn} {
				cl.ControlKey(k.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
					mu.Lock()
					seen[k] = append(seen[k], req.GetVersion())
					mu.Unlock()
					return nil, nil, false
				})
			}
			pool := newPool(t, cl, nil)
			ctx := testCtx(t)
			c, id := initClient(t, ctx, pool, "versions")
			p := newProducer(t, cl, pool, "versions", id)
			if !f.v2 {
				begin(t, ctx, c, p)
			}
			writeAll(ctx, p, "v", 1)
			offs := map[string]map[int32]txn.Offset{"a": {0: {Offset: 1, LeaderEpoch: -1}}}
			if err := c.SendOffsets(ctx, p.id, offs, txn.GroupMetadata{GroupID: "vg", Generation: -1}); err != nil {
				t.Fatal(err)
			}
			end(t, ctx, c, p, true)
			mu.Lock()
			defer mu.Unlock()
			want := map[kmsg.Key][]int16{
				kmsg.AddPartitionsToTxn: {3},
				kmsg.AddOffsetsToTxn:    {3},
				kmsg.TxnOffsetCommit:    {3},
				kmsg.EndTxn:             {3},
			}
			if f.v2 {
				want = map[kmsg.Key][]int16{kmsg.TxnOffsetCommit: {5}, kmsg.EndTxn: {5}}
			}
			if !maps.EqualFunc(seen, want, slices.Equal) {
				t.Fatalf("versions sent %v, want %v", seen, want)
			}
		})
	}
}
