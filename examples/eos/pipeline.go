package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/producer"
)

// errRecordFailed marks a transaction with a record that failed before the
// commit, typically one Send refused outright: such a record never joined
// the transaction, so the transaction is aborted rather than committed
// without it.
var errRecordFailed = errors.New("eos: a record of the transaction failed")

// config describes one instance of the pipeline.
type config struct {
	brokers []string
	input   string // topic read
	output  string // topic written
	group   string // consumer group; instances of one pipeline share it
	txnID   string // transactional.id; a restarted instance reuses its predecessor's

	// limit stops the instance once it has committed this many input
	// records; 0 runs until ctx ends.
	limit int
	// maxPerTxn bounds the records read, transformed and written in one
	// transaction; 0 means 500.
	maxPerTxn int
	// commitTimeout bounds one CommitTransaction attempt; after a timeout
	// the commit is tried again (which is safe) until ctx ends. 0 means 30s.
	commitTimeout time.Duration
	// rewindPause is how long the instance waits after an aborted
	// transaction before it reads again, so that a failure that persists
	// does not spin. 0 means 100ms.
	rewindPause time.Duration
	// producerOpts are added to the producer's options (after the ones
	// the pipeline needs, so they can override e.g. the client id).
	producerOpts []producer.Opt
	// log receives one line per notable event; nil discards them.
	log io.Writer

	// afterInit, when set, runs once InitTransactions has fenced any
	// predecessor and before the consumer joins the group.
	afterInit func()
	// beforeCommit, when set, runs with the transaction's records sent and
	// its offsets added, just before the commit: committed is what the
	// instance committed so far, pending the records of this transaction.
	// The tests use it to kill or pause an instance mid-transaction.
	beforeCommit func(p *producer.Producer, committed, pending int)
}

// result is what one instance did.
type result struct {
	committed    int // input records whose output and offsets were committed
	transactions int // transactions committed
	aborted      int // transactions aborted after an abortable error
	rewinds      int // consumers restarted at the committed offsets
}

// run processes the input until cfg.limit records are committed (then it
// stops cleanly and returns nil) or ctx ends.
//
// When ctx ends, the instance stops at once, as if the process had died: an
// open transaction is neither committed nor aborted, the producer is closed
// without waiting for anything, and run returns ctx's error. The next
// instance with the same transactional id aborts that transaction when it
// starts. A fenced instance returns an error matching producer.ErrFenced.
func run(ctx context.Context, cfg config) (result, error) {
	cfg.defaults()
	in := &instance{cfg: cfg, log: log.New(cfg.log, "["+cfg.txnID+"] ", log.Lmsgprefix|log.Ltime|log.Lmicroseconds)}
	var err error
	in.p, err = producer.New(append([]producer.Opt{
		producer.WithBrokers(cfg.brokers...),
		producer.WithClientID("eos-" + cfg.txnID),
		producer.WithTransactionalID(cfg.txnID),
	}, cfg.producerOpts...)...)
	if err != nil {
		return in.res, err
	}
	// The producer comes first: InitTransactions fences a predecessor and
	// aborts its open transaction, so the offsets it was about to commit
	// are settled before our consumer asks for them.
	if err := in.p.InitTransactions(ctx); err != nil {
		in.stop(ctx, err)
		return in.res, fmt.Errorf("init transactions: %w", err)
	}
	if cfg.afterInit != nil {
		cfg.afterInit()
	}
	if in.cl, err = newConsumer(cfg); err != nil {
		in.stop(ctx, err)
		return in.res, err
	}
	err = in.loop(ctx)
	in.stop(ctx, err)
	return in.res, err
}

// defaults fills in the zero values.
func (c *config) defaults() {
	if c.maxPerTxn <= 0 {
		c.maxPerTxn = 500
	}
	if c.commitTimeout <= 0 {
		c.commitTimeout = 30 * time.Second
	}
	if c.rewindPause <= 0 {
		c.rewindPause = 100 * time.Millisecond
	}
	if c.log == nil {
		c.log = io.Discard
	}
}

// instance is one running pipeline: its producer, its consumer, and what it
// did so far. Only run's goroutine touches it.
type instance struct {
	cfg config
	log *log.Logger
	p   *producer.Producer
	cl  *kgo.Client
	res result

	rec producer.Record // reused for every Send: the producer copies what it needs
	buf []byte          // the transformed value, reused for every record
}

// loop runs one transaction per polled batch until the limit or an error.
func (in *instance) loop(ctx context.Context) error {
	for in.cfg.limit == 0 || in.res.committed < in.cfg.limit {
		n := in.cfg.maxPerTxn
		if in.cfg.limit > 0 {
			n = min(n, in.cfg.limit-in.res.committed)
		}
		fs := in.cl.PollRecords(ctx, n)
		if err := ctx.Err(); err != nil {
			return err
		}
		// The consumer retries what can be retried; what it reports is
		// not going away (and no transaction is open yet).
		if errs := fs.Errors(); len(errs) > 0 {
			return fmt.Errorf("consuming %s[%d]: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		recs := fs.Records()
		if len(recs) == 0 {
			in.cl.AllowRebalance()
			continue
		}
		err := in.transact(ctx, recs)
		switch {
		case err == nil:
			in.res.committed += len(recs)
			in.res.transactions++
			in.cl.AllowRebalance()
		case ctx.Err() != nil:
			return ctx.Err() // died mid-transaction: leave it open
		case errors.Is(err, producer.ErrFenced):
			return fmt.Errorf("fenced: another instance owns transactional id %q: %w", in.cfg.txnID, err)
		case errors.Is(err, producer.ErrAbortable), errors.Is(err, errRecordFailed):
			if err := in.abortAndRewind(ctx, err); err != nil {
				return err
			}
		default:
			return err
		}
	}
	in.log.Printf("done: %d records in %d transactions (%d aborted, %d rewinds)",
		in.res.committed, in.res.transactions, in.res.aborted, in.res.rewinds)
	return nil
}

// transact writes the transformed recs, and the input position after them,
// in one transaction and commits it.
func (in *instance) transact(ctx context.Context, recs []*kgo.Record) error {
	if err := in.p.BeginTransaction(); err != nil {
		return err
	}
	// A record Send refuses is answered before Send returns, and is not
	// part of the transaction; records that fail later make the
	// transaction abortable inside the producer.
	var failed atomic.Pointer[error]
	onAnswer := func(_ producer.RecordMetadata, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	next := make(map[int32]producer.OffsetAndMetadata)
	for _, r := range recs {
		in.buf = appendUpper(in.buf[:0], r.Value)
		in.rec = producer.Record{Topic: in.cfg.output, Key: r.Key, Value: in.buf, Headers: in.rec.Headers[:0]}
		for _, h := range r.Headers {
			in.rec.Headers = append(in.rec.Headers, producer.Header{Key: h.Key, Value: h.Value})
		}
		in.p.Send(ctx, &in.rec, onAnswer)
		// The position to commit is the offset after the last record read.
		next[r.Partition] = producer.OffsetAndMetadata{Offset: r.Offset + 1, LeaderEpoch: r.LeaderEpoch, HasLeaderEpoch: r.LeaderEpoch >= 0}
	}
	if errp := failed.Load(); errp != nil {
		return fmt.Errorf("%w: %w", errRecordFailed, *errp)
	}
	member, generation := in.cl.GroupMetadata()
	group := producer.GroupMetadata{GroupID: in.cfg.group, Generation: generation, MemberID: member}
	if err := in.p.SendOffsetsToTransaction(ctx, map[string]map[int32]producer.OffsetAndMetadata{in.cfg.input: next}, group); err != nil {
		return err
	}
	if in.cfg.beforeCommit != nil {
		in.cfg.beforeCommit(in.p, in.res.committed, len(recs))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return in.commit(ctx)
}

// commit commits the open transaction, trying again after a timeout (safe:
// the producer resumes the commit it started) until ctx ends.
func (in *instance) commit(ctx context.Context) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, in.cfg.commitTimeout)
		err := in.p.CommitTransaction(cctx)
		cancel()
		if err == nil || !errors.Is(err, producer.ErrTxnTimeout) || ctx.Err() != nil {
			return err
		}
		in.log.Printf("commit timed out, trying again: %v", err)
	}
}

// abortAndRewind aborts the open transaction, then replaces the consumer
// with a new one: it resumes at the group's committed offsets, which the
// aborted transaction did not move, so the batch is read and written again.
func (in *instance) abortAndRewind(ctx context.Context, cause error) error {
	in.log.Printf("transaction cannot commit, aborting and rewinding: %v", cause)
	if err := in.p.AbortTransaction(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("abort: %w", err)
	}
	in.res.aborted++
	in.cl.AllowRebalance()
	in.cl.Close()
	in.cl = nil
	select {
	case <-time.After(in.cfg.rewindPause):
	case <-ctx.Done():
		return ctx.Err()
	}
	cl, err := newConsumer(in.cfg)
	if err != nil {
		return err
	}
	in.cl = cl
	in.res.rewinds++
	return nil
}

// stop releases the producer and the consumer. After a clean finish nothing
// is open and the producer closes normally. When ctx ended, the producer is
// closed with an already ended context, as a crash would leave it: the open
// transaction is neither committed nor aborted and nothing buffered is sent.
// After any other error, Close aborts what it can within a few seconds.
// The consumer always leaves its group, as a closed kgo client does; a
// process that really died would hold its partitions until its session
// timed out, which only delays the next instance.
func (in *instance) stop(ctx context.Context, err error) {
	var cctx context.Context
	var cancel context.CancelFunc
	if ctx.Err() != nil {
		cctx, cancel = context.WithCancel(context.Background())
		cancel()
	} else {
		cctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
	}
	if err != nil && ctx.Err() == nil {
		in.log.Printf("stopping: %v", err)
	}
	_ = in.p.Close(cctx)
	if in.cl != nil {
		in.cl.AllowRebalance()
		in.cl.Close()
	}
}
