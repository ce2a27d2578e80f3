package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kprod/kprod/producer"
)

// keyValue is one record of work, before it is sent.
type keyValue struct{ key, value string }

// sentRecord is a record the broker accepted, and where it put it.
type sentRecord struct {
	key, value string
	partition  int32
	offset     int64
}

// ledger is everything the example wrote: the records of committed
// transactions and those of aborted ones.
type ledger struct {
	runID     string // carried in every record's "run" header, to tell ours from others'
	committed []sentRecord
	aborted   []sentRecord
}

// txnRecords collects the answers to the records of one transaction.
type txnRecords struct {
	wg      sync.WaitGroup
	mu      sync.Mutex // guards written and failed
	written []sentRecord
	failed  []error
}

// send sends kv in the open transaction and records its answer when it comes.
func (t *txnRecords) send(ctx context.Context, p *producer.Producer, topic, runID string, kv keyValue) {
	t.wg.Add(1)
	rec := &producer.Record{
		Topic:   topic,
		Key:     []byte(kv.key),
		Value:   []byte(kv.value),
		Headers: []producer.Header{{Key: "run", Value: []byte(runID)}},
	}
	p.Send(ctx, rec, func(md producer.RecordMetadata, err error) {
		defer t.wg.Done()
		t.mu.Lock()
		defer t.mu.Unlock()
		if err != nil {
			t.failed = append(t.failed, fmt.Errorf("%s: %w", kv.key, err))
			return
		}
		t.written = append(t.written, sentRecord{kv.key, kv.value, md.Partition, md.Offset})
	})
}

// refused returns the errors of the records answered so far. Right after the
// sends these are the records Send refused outright (too large, no memory):
// they never joined the transaction.
func (t *txnRecords) refused() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return errors.Join(t.failed...)
}

// wait waits until every record of the transaction has its answer.
func (t *txnRecords) wait(ctx context.Context) ([]sentRecord, error) {
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the records' answers: %w", ctx.Err())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.written, nil
}

// commitWork writes work in one transaction and commits it. When the
// transaction cannot commit (an abortable error), it is aborted and the whole
// work is tried again in a new transaction, up to o.attempts times: the
// aborted attempt's records stay invisible to read_committed readers, so
// retrying cannot duplicate anything. A fenced producer stops at once.
func commitWork(ctx context.Context, p *producer.Producer, o options, l *ledger, work []keyValue) error {
	for attempt := 1; ; attempt++ {
		if err := p.BeginTransaction(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		t := &txnRecords{}
		for _, kv := range work {
			t.send(ctx, p, o.topic, l.runID, kv)
		}
		err := t.refused()
		if err != nil {
			// A refused record is not part of the transaction: committing
			// would commit the others without it.
			err = fmt.Errorf("%w: a record was refused: %w", producer.ErrAbortable, err)
		} else {
			if o.beforeCommit != nil {
				o.beforeCommit(ctx)
			}
			err = p.CommitTransaction(ctx)
		}
		if err == nil {
			written, werr := t.wait(ctx)
			if werr != nil {
				return werr
			}
			l.committed = append(l.committed, written...)
			fmt.Fprintf(o.out, "transaction committed (attempt %d): %d records\n", attempt, len(written))
			printRecords(o, written)
			return nil
		}
		if err := settle(ctx, p, o, err); err != nil {
			return err
		}
		written, werr := t.wait(ctx)
		if werr != nil {
			return werr
		}
		l.aborted = append(l.aborted, written...)
		if attempt >= o.attempts {
			return fmt.Errorf("the transaction was aborted %d times, giving up: %w", attempt, err)
		}
	}
}

// abortWork writes work in a transaction and then aborts it on purpose. The
// records are flushed first, so they really are in the log: the abort marker
// that follows them is what hides them from read_committed readers.
func abortWork(ctx context.Context, p *producer.Producer, o options, l *ledger, work []keyValue) error {
	if err := p.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &txnRecords{}
	for _, kv := range work {
		t.send(ctx, p, o.topic, l.runID, kv)
	}
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if err := p.AbortTransaction(ctx); err != nil {
		if errors.Is(err, producer.ErrFenced) {
			return fenced(o, err)
		}
		return fmt.Errorf("abort: %w", err)
	}
	written, err := t.wait(ctx)
	if err != nil {
		return err
	}
	l.aborted = append(l.aborted, written...)
	fmt.Fprintf(o.out, "transaction aborted on purpose: %d records were written, then aborted\n", len(written))
	printRecords(o, written)
	return nil
}

// settle handles a transaction that failed to commit. A fenced producer must
// stop: another instance owns the transactional id now. An abortable error
// ends the transaction with AbortTransaction and the producer goes on. Any
// other error (the ctx ended, a call out of order) is returned as is.
func settle(ctx context.Context, p *producer.Producer, o options, err error) error {
	switch {
	case errors.Is(err, producer.ErrFenced):
		return fenced(o, err)
	case errors.Is(err, producer.ErrAbortable):
		fmt.Fprintf(o.out, "transaction cannot commit, aborting it: %v\n", err)
		if aerr := p.AbortTransaction(ctx); aerr != nil {
			if errors.Is(aerr, producer.ErrFenced) {
				return fenced(o, aerr)
			}
			return fmt.Errorf("abort: %w", aerr)
		}
		fmt.Fprintln(o.out, "transaction aborted: none of its records will be visible to read_committed readers")
		return nil
	default:
		return fmt.Errorf("commit: %w", err)
	}
}

// fenced is the error that ends the program when another producer took over
// the transactional id.
func fenced(o options, err error) error {
	return fmt.Errorf("fenced: another producer now owns transactional id %q; closing: %w", o.txnID, err)
}

// printRecords lists records with where they were written.
func printRecords(o options, recs []sentRecord) {
	for _, r := range recs {
		fmt.Fprintf(o.out, "  %-8s %-12q partition=%d offset=%d\n", r.key, r.value, r.partition, r.offset)
	}
}
