package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// testCtx bounds a test's run to 40 s (kafkatest.Context).
func testCtx(t testing.TB) context.Context { return kafkatest.Context(t, 40*time.Second) }

// TestEmbedded runs the program as `go run` does with no flags.
func TestEmbedded(t *testing.T) {
	var out bytes.Buffer
	err := run(testCtx(t), options{topic: "payments", txnID: "embedded", out: &out})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ok: exactly the 3 committed records are visible") {
		t.Fatal("no success line")
	}
}

// TestRun runs the program against a cluster the test controls: both
// transaction protocols, abortable errors that a retry gets past or not, and
// a producer fenced just before it commits.
func TestRun(t *testing.T) {
	classic := kafkatest.ClassicTransactions()
	produceFault := func(count int) func(*kfake.Cluster) {
		return func(c *kfake.Cluster) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "payments", Err: kerr.InvalidRecord, Count: count})
		}
	}
	tests := []struct {
		name    string
		cluster []kfake.Opt
		setup   func(*kfake.Cluster)
		opts    []producer.Opt
		fence   bool     // start a rival producer with our transactional id before the commit
		wantErr error    // nil: the run must succeed
		wantOut []string // lines the walkthrough must print
	}{
		{name: "v2", wantOut: []string{"committed (attempt 1)", "aborted on purpose: 2 records", "read_uncommitted sees 5"}},
		{name: "classic", cluster: []kfake.Opt{classic}, wantOut: []string{"committed (attempt 1)", "read_uncommitted sees 5"}},
		{name: "abortable once/v2", setup: produceFault(1), wantOut: []string{"cannot commit", "committed (attempt 2)"}},
		{name: "abortable once/classic", cluster: []kfake.Opt{classic}, setup: produceFault(1), wantOut: []string{"cannot commit", "committed (attempt 2)"}},
		{name: "abortable always", setup: produceFault(-1), wantErr: producer.ErrAbortable, wantOut: []string{"aborted 3 times"}},
		{name: "records refused", opts: []producer.Opt{producer.WithMaxRequestSize(batch.Overhead + 1)},
			wantErr: producer.ErrAbortable, wantOut: []string{"a record was refused", "aborted 3 times"}},
		{name: "fenced/v2", fence: true, wantErr: producer.ErrFenced},
		{name: "fenced/classic", cluster: []kfake.Opt{classic}, fence: true, wantErr: producer.ErrFenced},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := kafkatest.NewFake(t, 3, append([]kfake.Opt{kfake.SeedTopics(3, "payments")}, tc.cluster...)...).Kfake()
			if tc.setup != nil {
				tc.setup(c)
			}
			ctx := testCtx(t)
			var out bytes.Buffer
			o := options{brokers: c.ListenAddrs(), topic: "payments", txnID: "tx-" + tc.name, out: &out, producerOpts: tc.opts}
			if tc.fence {
				o.beforeCommit = func(ctx context.Context) { startRival(ctx, t, c, o.txnID) }
			}
			err := run(ctx, o)
			if err != nil {
				out.WriteString("error: " + err.Error() + "\n")
			}
			t.Log("\n" + out.String())
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("run: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("run: %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.wantOut {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q", s)
				}
			}
			if tc.wantErr != nil {
				// Nothing of a transaction that did not commit may be visible.
				if n := countCommitted(ctx, t, c); n != 0 {
					t.Fatalf("%d records of the fenced transaction are visible", n)
				}
			}
		})
	}
}

// startRival starts a producer with the same transactional id: its
// InitTransactions fences ours.
func startRival(ctx context.Context, t *testing.T, c *kfake.Cluster, txnID string) {
	rival, err := producer.New(producer.WithBrokers(c.ListenAddrs()...), producer.WithTransactionalID(txnID))
	if err != nil {
		t.Error(err)
		return
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rival.Close(cctx)
	})
	if err := rival.InitTransactions(ctx); err != nil {
		t.Errorf("rival: %v", err)
	}
}

// countCommitted counts the records a read_committed reader sees in the
// topic, reading until every partition is past its high watermark.
func countCommitted(ctx context.Context, t *testing.T, c *kfake.Cluster) int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("payments"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n := 0
	for short.Err() == nil {
		n += len(cl.PollFetches(short).Records())
	}
	return n
}

// TestSame pins down the comparison the program's exit code rests on.
func TestSame(t *testing.T) {
	want := []sentRecord{{"a", "1", 0, 5}, {"b", "2", 1, 7}}
	rec := func(key, value string, p int32, off int64) *kgo.Record {
		return &kgo.Record{Key: []byte(key), Value: []byte(value), Partition: p, Offset: off}
	}
	tests := []struct {
		name string
		got  []*kgo.Record
		ok   bool
	}{
		{"exact", []*kgo.Record{rec("b", "2", 1, 7), rec("a", "1", 0, 5)}, true},
		{"missing", []*kgo.Record{rec("a", "1", 0, 5)}, false},
		{"duplicate", []*kgo.Record{rec("a", "1", 0, 5), rec("b", "2", 1, 7), rec("a", "1", 0, 5)}, false},
		{"foreign offset", []*kgo.Record{rec("a", "1", 0, 5), rec("b", "2", 1, 7), rec("c", "3", 1, 8)}, false},
		{"other value", []*kgo.Record{rec("a", "1", 0, 5), rec("b", "9", 1, 7)}, false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := same("reader", tc.got, want)
			if tc.ok != (err == nil) {
				t.Fatalf("same: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errVisibility) {
				t.Fatalf("error %v does not match errVisibility", err)
			}
		})
	}
}

func TestSpans(t *testing.T) {
	got := spans([]sentRecord{{partition: 1, offset: 9}, {partition: 0, offset: 4}, {partition: 1, offset: 3}, {partition: 1, offset: 6}})
	want := map[int32]offsetSpan{0: {4, 4}, 1: {3, 9}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("spans = %v, want %v", got, want)
	}
}

func TestFromRun(t *testing.T) {
	r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "other", Value: []byte("x")}, {Key: "run", Value: []byte("r1")}}}
	if !fromRun(r, "r1") || fromRun(r, "r2") || fromRun(&kgo.Record{}, "r1") {
		t.Fatal("fromRun misjudges the run header")
	}
}

// BenchmarkTransaction measures one committed transaction of three records
// on an embedded cluster: begin, three sends, commit.
func BenchmarkTransaction(b *testing.B) {
	c := kafkatest.NewFake(b, 3, kfake.SeedTopics(3, "bench")).Kfake()
	ctx := context.Background()
	p, err := producer.New(producer.WithBrokers(c.ListenAddrs()...), producer.WithTransactionalID("bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	if err := p.InitTransactions(ctx); err != nil {
		b.Fatal(err)
	}
	recs := []*producer.Record{
		{Topic: "bench", Key: []byte("order-1"), Value: []byte("paid 10.00")},
		{Topic: "bench", Key: []byte("order-2"), Value: []byte("paid 25.50")},
		{Topic: "bench", Key: []byte("order-3"), Value: []byte("paid 7.25")},
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.BeginTransaction(); err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			p.Send(ctx, r, nil)
		}
		if err := p.CommitTransaction(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
