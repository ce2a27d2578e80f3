package producer

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/txn"
)

// TestSendOffsetsZeroGroupMetadata commits offsets with the zero values the
// issue tripped on, GroupMetadata{GroupID: "g"} and OffsetAndMetadata{Offset:
// n}: the commit goes through (no generation is checked, where generation 0
// used to be refused with ILLEGAL_GENERATION), and the group's committed
// offset is n with leader epoch -1 (not 0).
func TestSendOffsetsZeroGroupMetadata(t *testing.T) {
	txnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		c := newCluster(t, append(opts, kfake.SeedTopics(2, "in", "out"))...)
		p := newTxnProducer(t, c, "tx-zero")
		ctx := ctxTimeout(t, 30*time.Second)
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		p.Send(ctx, &Record{Topic: "out", Value: []byte("v-0")}, nil)
		offsets := map[string]map[int32]OffsetAndMetadata{"in": {0: {Offset: 42}, 1: {Offset: 7, LeaderEpoch: 3}}}
		if err := p.SendOffsetsToTransaction(ctx, offsets, GroupMetadata{GroupID: "g"}); err != nil {
			t.Fatalf("SendOffsetsToTransaction with GroupMetadata{GroupID: \"g\"}: %v", err)
		}
		if err := p.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		got := fetchOffsets(t, c, "g", "in", 0, 1)
		if o := got[0]; o.Offset != 42 || o.LeaderEpoch != -1 {
			t.Fatalf("partition 0 committed at %d, leader epoch %d; want 42, -1", o.Offset, o.LeaderEpoch)
		}
		if o := got[1]; o.Offset != 7 || o.LeaderEpoch != 3 {
			t.Fatalf("partition 1 committed at %d, leader epoch %d; want 7, 3", o.Offset, o.LeaderEpoch)
		}
	})
}

// fetchOffsets reads group's committed offsets of topic's partitions with
// an independent client.
func fetchOffsets(t *testing.T, c *kfake.Cluster, group, topic string, parts ...int32) map[int32]kmsg.OffsetFetchResponseGroupTopicPartition {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic, rt.Partitions = topic, parts
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	req.RequireStable = true
	raw, err := cl.Request(ctxTimeout(t, 10*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]kmsg.OffsetFetchResponseGroupTopicPartition{}
	for _, g := range raw.(*kmsg.OffsetFetchResponse).Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			t.Fatalf("offset fetch: %v", err)
		}
		for _, tp := range g.Topics {
			for _, p := range tp.Partitions {
				out[p.Partition] = p
			}
		}
	}
	return out
}

// TestTransactionZeroValuesMeanNone pins the mapping of the zero values to
// what goes on the wire: no generation (-1), no member, no static instance,
// an unknown leader epoch (-1), no metadata; and the values given are kept.
func TestTransactionZeroValuesMeanNone(t *testing.T) {
	g := GroupMetadata{GroupID: "g"}.txnGroup()
	if g.Generation != -1 || g.MemberID != "" || g.InstanceID != nil {
		t.Fatalf("zero GroupMetadata sent as %+v", g)
	}
	g = GroupMetadata{GroupID: "g", Generation: 5, MemberID: "m", InstanceID: "i"}.txnGroup()
	if g.Generation != 5 || g.MemberID != "m" || g.InstanceID == nil || *g.InstanceID != "i" {
		t.Fatalf("GroupMetadata sent as %+v", g)
	}
	for _, tc := range []struct {
		in    OffsetAndMetadata
		epoch int32
	}{
		{OffsetAndMetadata{Offset: 9}, -1},
		{OffsetAndMetadata{Offset: 9, LeaderEpoch: 4}, 4},
		{OffsetAndMetadata{Offset: 9, LeaderEpoch: -1}, -1},
		{OffsetAndMetadata{Offset: 9, HasLeaderEpoch: true}, 0},
		{OffsetAndMetadata{Offset: 9, LeaderEpoch: -3, HasLeaderEpoch: true}, -1},
	} {
		o := tc.in.txnOffset()
		if o.Offset != 9 || o.LeaderEpoch != tc.epoch || o.Metadata != nil {
			t.Fatalf("%+v sent as %+v; want leader epoch %d", tc.in, o, tc.epoch)
		}
	}
	if o := (OffsetAndMetadata{Offset: 1, Metadata: "m"}).txnOffset(); o.Metadata == nil || *o.Metadata != "m" {
		t.Fatalf("metadata sent as %v", o.Metadata)
	}
	// go doc shows the types themselves, not aliases of package txn's.
	for _, typ := range []reflect.Type{reflect.TypeFor[GroupMetadata](), reflect.TypeFor[OffsetAndMetadata]()} {
		if typ.PkgPath() != "github.com/kprod/kprod/producer" {
			t.Fatalf("%v is defined in %s", typ, typ.PkgPath())
		}
	}
	if reflect.TypeFor[GroupMetadata]() == reflect.TypeFor[txn.GroupMetadata]() {
		t.Fatal("GroupMetadata is still an alias")
	}
}

// TestCommitAfterFailedRecordIsAbortableOnly: after a record of the
// transaction failed, CommitTransaction and BeginTransaction fail with the
// transaction's failure, matching ErrAbortable and not ErrInvalidState
// (the calls were not out of order).
func TestCommitAfterFailedRecordIsAbortableOnly(t *testing.T) {
	txnFlows(t, func(t *testing.T, opts ...kfake.Opt) {
		c := newCluster(t, append(opts, kfake.SeedTopics(1, "fails"))...)
		p := newTxnProducer(t, c, "tx-fails")
		ctx := ctxTimeout(t, 30*time.Second)
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.InvalidRecord})
		if _, err := p.SendSync(ctx, &Record{Topic: "fails", Value: []byte("v-0")}); !errors.Is(err, kerr.InvalidRecord) {
			t.Fatalf("record: %v", err)
		}
		for name, call := range map[string]func() error{
			"CommitTransaction": func() error { return p.CommitTransaction(ctx) },
			"BeginTransaction":  p.BeginTransaction,
		} {
			err := call()
			if !errors.Is(err, ErrAbortable) || errors.Is(err, ErrInvalidState) {
				t.Fatalf("%s after a failed record: %v; want ErrAbortable and not ErrInvalidState", name, err)
			}
			if !errors.Is(err, kerr.InvalidRecord) {
				t.Fatalf("%s: %v does not say which error failed the record", name, err)
			}
		}
		if err := p.AbortTransaction(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
