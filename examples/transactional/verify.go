package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Errors of the verification.
var (
	// errNotCommitted: the transaction that should have committed did not.
	errNotCommitted = errors.New("transactional: expected 3 committed records")
	// errVisibility: a reader saw what it must not, or missed what it must see.
	errVisibility = errors.New("transactional: wrong records visible")
)

// offsetSpan is the range of offsets our records took in one partition.
type offsetSpan struct{ first, last int64 }

// spans returns, per partition, the offsets of the first and last record of
// recs.
func spans(recs []sentRecord) map[int32]offsetSpan {
	out := make(map[int32]offsetSpan)
	for _, r := range recs {
		s, ok := out[r.partition]
		if !ok {
			s = offsetSpan{r.offset, r.offset}
		}
		s.first, s.last = min(s.first, r.offset), max(s.last, r.offset)
		out[r.partition] = s
	}
	return out
}

// verify reads the topic back at both isolation levels: read_uncommitted must
// show every record we wrote, aborted ones included; read_committed exactly
// the committed ones.
func verify(ctx context.Context, o options, l *ledger) error {
	if len(l.committed) != 3 {
		return fmt.Errorf("%w, have %d", errNotCommitted, len(l.committed))
	}
	all := append(slices.Clone(l.committed), l.aborted...)
	for _, r := range all {
		if r.offset < 0 {
			return fmt.Errorf("%w: the offset of %s is unknown", errVisibility, r.key)
		}
	}
	sp := spans(all)

	everything, err := readBack(ctx, o, l.runID, sp, kgo.ReadUncommitted())
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "read_uncommitted sees %d records (%d committed, %d from aborted transactions)\n",
		len(everything), len(l.committed), len(l.aborted))
	if err := same("read_uncommitted", everything, all); err != nil {
		return err
	}

	visible, err := readBack(ctx, o, l.runID, sp, kgo.ReadCommitted())
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "read_committed sees %d records:\n", len(visible))
	for _, r := range visible {
		fmt.Fprintf(o.out, "  %-8s %-12q partition=%d offset=%d\n", r.Key, r.Value, r.Partition, r.Offset)
	}
	if err := same("read_committed", visible, l.committed); err != nil {
		return err
	}
	fmt.Fprintln(o.out, "ok: exactly the 3 committed records are visible")
	return nil
}

// same checks that a reader saw exactly want: each record once, at the
// partition and offset the producer was told.
func same(reader string, got []*kgo.Record, want []sentRecord) error {
	type at struct {
		partition int32
		offset    int64
	}
	expect := make(map[at]sentRecord, len(want))
	for _, r := range want {
		expect[at{r.partition, r.offset}] = r
	}
	for _, r := range got {
		k := at{r.Partition, r.Offset}
		w, ok := expect[k]
		if !ok {
			return fmt.Errorf("%w: %s sees %s=%q at partition %d offset %d, which it must not",
				errVisibility, reader, r.Key, r.Value, r.Partition, r.Offset)
		}
		if string(r.Key) != w.key || string(r.Value) != w.value {
			return fmt.Errorf("%w: %s sees %s=%q at partition %d offset %d, want %s=%q",
				errVisibility, reader, r.Key, r.Value, r.Partition, r.Offset, w.key, w.value)
		}
		delete(expect, k)
	}
	if len(expect) > 0 {
		missing := slices.Collect(maps.Values(expect))
		return fmt.Errorf("%w: %s misses %d records, e.g. %s at partition %d offset %d",
			errVisibility, reader, len(missing), missing[0].key, missing[0].partition, missing[0].offset)
	}
	return nil
}

// readBack reads our partitions from our first offset until it is past our
// last one, and returns the data records this run wrote that the isolation
// level lets through.
//
// Transaction markers (control records) are kept so the reader knows where
// it stands: a transaction's marker follows all its records, so once a
// reader has gone past our last offset in a partition, every transaction we
// ran there is decided and read.
func readBack(ctx context.Context, o options, runID string, sp map[int32]offsetSpan, iso kgo.IsolationLevel) ([]*kgo.Record, error) {
	start := make(map[int32]kgo.Offset, len(sp))
	for p, s := range sp {
		start[p] = kgo.NewOffset().At(s.first)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(o.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.topic: start}),
		kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	pending := maps.Clone(sp)
	var out []*kgo.Record
	for len(pending) > 0 {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return nil, fmt.Errorf("reading %s back: %d partitions not read past our records: %w", o.topic, len(pending), err)
		}
		for _, fe := range fs.Errors() {
			return nil, fmt.Errorf("reading %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if s, ok := pending[r.Partition]; ok && r.Offset > s.last {
				delete(pending, r.Partition)
			}
			if r.Attrs.IsControl() || !fromRun(r, runID) {
				return
			}
			out = append(out, r)
		})
	}
	return out, nil
}

// fromRun reports whether r carries this run's id in its "run" header.
func fromRun(r *kgo.Record, runID string) bool {
	for _, h := range r.Headers {
		if h.Key == "run" {
			return string(h.Value) == runID
		}
	}
	return false
}
