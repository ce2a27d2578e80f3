package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/metadata"
	"github.com/kprod/kprod/internal/txn"
	"github.com/kprod/kprod/internal/wire"
	"github.com/kprod/kprod/partitioner"
)

// Producer sends records to a Kafka cluster. It is safe for concurrent use;
// one Producer per cluster is usually enough for a whole service.
type Producer struct {
	cfg    config
	acc    *accumulator
	bufs   *bufferPool
	conns  *wire.Pool
	md     *metadata.Client
	s      *sender
	cbs    *completer
	m      metrics
	sticky *partitioner.Sticky
	txn    *transaction // nil without a transactional id
	hooks  *hookRunner
	// intercepted: interceptors or send or ack hooks are installed, and
	// each record is copied for them.
	intercepted bool

	closing   atomic.Bool
	closeDone chan struct{}
	closeErr  error // set before closeDone is closed
}

// New creates a producer. Options not given keep the Java producer's
// defaults; nil options are skipped. Invalid settings fail with an error
// wrapping ErrInvalidConfig that names the setting (every bad property at
// once). New does not contact the cluster: connections and metadata are set
// up on first use.
func New(opts ...Opt) (*Producer, error) {
	p := &Producer{cfg: defaultConfig(), closeDone: make(chan struct{})}
	for _, o := range opts {
		if o != nil {
			o(&p.cfg)
		}
	}
	cfg := &p.cfg
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.logIgnored()
	var comp *batch.Compressor
	if cfg.codec != batch.None {
		c, err := batch.NewCompressor(cfg.codec, cfg.level())
		if err != nil {
			return nil, configError("compression.type (WithCompression)", "%v", err)
		}
		comp = c
	}
	if cfg.partitioner == nil {
		p.sticky = partitioner.NewSticky(partitioner.StickyConfig{
			BatchSize: cfg.batchSize, Adaptive: cfg.adaptive, AvailabilityTimeout: cfg.availabilityTimeout,
		})
	}
	p.hooks = &hookRunner{hooks: cfg.hooks, log: cfg.logger, m: &p.m}
	p.intercepted = len(cfg.interceptors) > 0 || len(cfg.hooks.send) > 0 || len(cfg.hooks.ack) > 0
	var observer wire.Observer
	if len(cfg.hooks.request) > 0 {
		observer = p.hooks
	}
	// The mailbox comes first: every part below wakes the sender through it.
	mb := newMailbox()
	p.bufs = newBufferPool(cfg.bufferMemory, max(cfg.batchSize, min(cfg.maxRequestSize, 64*cfg.batchSize)))
	p.acc = newAccumulator(cfg, p.bufs, comp, p.sticky, mb.wake)
	// The spool before anything that starts a goroutine or a connection, so
	// that a spool that cannot be opened leaves nothing behind; what it
	// holds is queued before any Send.
	var sp *spooler
	if cfg.spool.dir != "" {
		var err error
		if sp, err = openSpool(cfg, p.acc, &p.m); err != nil {
			return nil, err
		}
		p.m.spoolBytes = func() int64 { return sp.sp.Stats().PendingBytes }
	}
	conns, err := wire.NewPool(&wire.Config{
		ClientID:            cfg.clientID,
		TLS:                 cfg.tls,
		SASL:                cfg.sasl,
		DialTimeout:         cfg.dialTimeout,
		Dial:                cfg.dial(),
		ReconnectBackoff:    cfg.reconnectBackoff,
		ReconnectBackoffMax: cfg.reconnectBackoffMax,
		IdleTimeout:         cfg.connMaxIdle,
		Observer:            observer,
		Logger:              cfg.logger,
		OnChange:            mb.wake,
	}, cfg.brokers)
	if err != nil {
		if sp != nil {
			sp.sp.Close() // the directory's lock goes with it
		}
		return nil, configError("bootstrap.servers (WithBrokers)", "%v", err)
	}
	p.conns = conns
	p.md = metadata.New(conns, metadata.Config{
		MaxAge:          cfg.metadataMaxAge,
		MaxIdle:         cfg.metadataMaxIdle,
		MinInterval:     cfg.retryBackoff,
		AllowAutoCreate: true,
		Logger:          cfg.logger,
		OnUpdate:        mb.wake,
	})
	p.cbs = newCompleter(p.acc, cfg.interceptors, p.hooks, cfg.logger, &p.m)
	p.txn = newTransaction(cfg, conns)
	p.s = newSender(cfg, p.acc, p.bufs, conns, p.md, p.cbs, &p.m, mb, p.txn, p.sticky, p.hooks)
	p.s.spool = sp
	go p.s.run()
	return p, nil
}

// Send hands rec to the producer and returns at once with its Future; the
// record is answered exactly once, through cb (if not nil, on the
// producer's callback goroutine) and the Future. Send waits only for topic
// metadata and buffer memory, together at most max.block or until ctx ends.
// A record that cannot be accepted (invalid, too large, no memory, producer
// closed) is answered before Send returns, with cb called on the caller's
// goroutine. rec and its slices may be reused once Send returns.
func (p *Producer) Send(ctx context.Context, rec *Record, cb Callback) Future {
	return p.send(ctx, rec, cb, true, false)
}

// TrySend is Send that never waits for buffer memory: when the buffer is full
// the record fails at once with ErrBufferFull.
func (p *Producer) TrySend(ctx context.Context, rec *Record, cb Callback) Future {
	return p.send(ctx, rec, cb, false, false)
}

// SendSync sends rec and waits for its answer. The record's batch goes out
// without waiting for linger. ctx bounds the whole wait; when it ends first,
// the record may still be written later.
func (p *Producer) SendSync(ctx context.Context, rec *Record) (RecordMetadata, error) {
	return p.send(ctx, rec, nil, true, true).Get(ctx)
}

func (p *Producer) send(ctx context.Context, in *Record, cb Callback, block, urgent bool) Future {
	if in == nil {
		return p.failSend(nil, nil, cb, recordError("nil record"))
	}
	start := p.s.clock.read() // one clock reading per record (the ticker's while busy): timestamps, latency and max.block derive from it
	// rec is only read from here on (never kept, never handed to user
	// code), so a caller's Record can stay on its stack. Interceptors and
	// hooks get a copy of their own.
	rec := in
	sn := seen{ctx: ctx, start: start}
	if p.intercepted {
		sn.rec, sn.ctx = p.intercept(ctx, in)
		rec = sn.rec
	}
	if p.closing.Load() {
		return p.failSend(&sn, rec, cb, ErrClosed)
	}
	if ep := p.s.life.fatalErr.Load(); ep != nil {
		return p.failSend(&sn, rec, cb, *ep)
	}
	if p.txn != nil {
		if st := p.txn.machine.State(); st != txn.InTransaction {
			return p.failSend(&sn, rec, cb, p.stateError(st, "Send"))
		}
	}
	if !rec.PinPartition && rec.Partition != 0 {
		return p.failSend(&sn, rec, cb, recordError("Partition is %d but PinPartition is false: set PinPartition to send to that partition, or leave Partition 0 to let the partitioner choose", rec.Partition))
	}
	// The same rule with warm and cold metadata: a ctx that already ended
	// refuses the record before anything is appended.
	if err := ctx.Err(); err != nil {
		return p.failSend(&sn, rec, cb, fmt.Errorf("producer: Send called with an ended context: %w", err))
	}
	var t *metadata.Topic
	tp := p.acc.lookupTopic(rec.Topic) // nil before the topic's first record
	if tp != nil {
		t = tp.metadata(p.md)
	}
	if t == nil || len(t.Partitions) == 0 {
		var err error
		if t, err = p.waitTopic(ctx, rec.Topic, start); err != nil {
			return p.failSend(&sn, rec, cb, err)
		}
	}
	t.MarkUsed() // keeps the topic in the refreshes (metadata.max.idle)
	n := len(t.Partitions)
	if tp == nil {
		tp = p.acc.topic(rec.Topic)
	}
	part, sticky, err := p.choosePartition(rec, tp, t, n)
	if err != nil {
		return p.failSend(&sn, rec, cb, err)
	}
	if len(rec.Headers) > 0 || len(rec.Key)+len(rec.Value) > p.cfg.maxRequestSize-batch.MaxHeaderlessOverhead {
		if size := batch.EstimateSize(rec.Key, rec.Value, rec.Headers); size > p.cfg.maxRequestSize {
			return p.failSend(&sn, rec, cb, fmt.Errorf("%w: %d bytes serialized, max.request.size is %d", ErrRecordTooLarge, size, p.cfg.maxRequestSize))
		}
	}
	ts := wallMillis(start)
	if !rec.Timestamp.IsZero() {
		ts = rec.Timestamp.UnixMilli()
	}
	args := appendArgs{ts: ts, key: rec.Key, val: rec.Value, headers: rec.Headers, cb: cb,
		at: start, maxBlock: p.cfg.maxBlock, block: block, urgent: urgent}
	if len(p.hooks.ack) > 0 {
		args.hooked = hookedRec{ctx: sn.ctx, rec: sn.rec}
	}
	res, err := p.acc.append(ctx, tp.partition(p.acc, part), &args)
	if err != nil {
		switch {
		case errors.Is(err, ErrMaxBlock):
			err = fmt.Errorf("%w: %w: no memory within max.block (%v; waited %v)", ErrBufferFull, ErrMaxBlock, p.cfg.maxBlock, elapsedSince(start))
		case errors.Is(err, ErrBufferFull):
			err = fmt.Errorf("%w: %d of %d bytes in use", ErrBufferFull, p.bufs.inUse(), p.bufs.total)
		}
		if errors.Is(err, ErrBufferFull) && p.s.spool != nil {
			if why := p.s.spool.refusedErr.Load(); why != nil {
				err = fmt.Errorf("%w (the spool takes no more: %w)", err, *why)
			}
		}
		return p.failSend(&sn, rec, cb, err)
	}
	if sticky {
		tp.sticky.OnAppend(part, tp.wireBytes(p.acc, res.bytes), res.full, n, t.Available)
	}
	return res.fut
}

// seen is what the interceptors and hooks made of a record on Send.
type seen struct {
	rec   *Record         // their copy of the record; nil when none is installed
	ctx   context.Context // what the send hooks returned, for the ack hooks
	start int64           // when Send began (nanotime)
}

// intercept copies in for the interceptors and hooks, runs the
// interceptors' OnSend (each may replace the record) and then the send
// hooks, and returns the record they leave and the hooks' context.
func (p *Producer) intercept(ctx context.Context, in *Record) (*Record, context.Context) {
	rec := new(Record)
	*rec = *in
	for _, ic := range p.cfg.interceptors {
		if r := ic.OnSend(rec); r != nil {
			rec = r
		}
	}
	if len(p.hooks.send) > 0 {
		ctx = p.hooks.onSend(ctx, rec)
	}
	return rec, ctx
}

// choosePartition picks the record's partition: pinned, then a custom
// partitioner, then the key hash, then sticky. sticky reports the last case.
func (p *Producer) choosePartition(rec *Record, tp *topicParts, t *metadata.Topic, n int) (part int32, sticky bool, err error) {
	switch {
	case rec.PinPartition:
		part = rec.Partition
	case p.cfg.partitioner != nil:
		part = p.cfg.partitioner.Partition(rec.Topic, rec.Key, rec.Value, n)
	case rec.Key != nil && !p.cfg.ignoreKeys:
		part = partitioner.KeyPartition(rec.Key, n)
	default:
		return tp.sticky.Partition(n, t.Available), true, nil
	}
	if part < 0 || int(part) >= n {
		return 0, false, recordError("partition %d out of range: topic %q has %d partitions", part, rec.Topic, n)
	}
	return part, false, nil
}

// waitTopic waits for the topic's metadata until max.block after start (a
// nanotime reading) or until ctx ends. The error says which ended the wait:
// ctx's error, or ErrMaxBlock; it wraps ErrUnknownTopic only when a broker
// answered that the topic does not exist. It states the time really waited.
func (p *Producer) waitTopic(ctx context.Context, topic string, start int64) (*metadata.Topic, error) {
	if err := checkTopicName(topic); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithDeadline(ctx, monoTime(start).Add(p.cfg.maxBlock))
	defer cancel()
	t, err := p.md.Wait(wctx, topic)
	if err == nil {
		return t, nil
	}
	waited := elapsedSince(start)
	var why error
	switch {
	case p.closing.Load():
		return nil, fmt.Errorf("%w: waiting for metadata of topic %q: %w", ErrClosed, topic, err)
	case ctx.Err() != nil:
		// The caller's ctx ended the wait; err wraps ctx's error.
		why = fmt.Errorf("waited %v for metadata of topic %q until the context ended: %w", waited, topic, err)
	case errors.Is(err, context.DeadlineExceeded):
		why = fmt.Errorf("%w: waited %v (max.block %v) for metadata of topic %q: %w", ErrMaxBlock, waited, p.cfg.maxBlock, topic, err)
	default:
		return nil, err // a broker refused the topic for good (authorization, invalid name), or TLS/SASL failed
	}
	if errors.Is(err, metadata.ErrUnknownTopic) {
		// A broker answered that the topic does not exist.
		return nil, fmt.Errorf("%w: %w", ErrUnknownTopic, why)
	}
	return nil, why
}

// elapsedSince is the time since a nanotime reading, rounded for messages.
func elapsedSince(start int64) time.Duration {
	return time.Duration(nanotime() - start).Round(time.Millisecond)
}

// checkTopicName applies Kafka's rules for topic names.
func checkTopicName(topic string) error {
	if topic == "" {
		return recordError("empty topic")
	}
	if len(topic) > 249 || topic == "." || topic == ".." {
		return recordError("invalid topic name %q", topic)
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return recordError("invalid topic name %q: only letters, digits, '.', '_' and '-' are allowed", topic)
		}
	}
	return nil
}

// failSend answers a record that never reached a batch. sn is what the
// interceptors and hooks made of it (nil when they never saw it).
func (p *Producer) failSend(sn *seen, rec *Record, cb Callback, err error) Future {
	if p.txn != nil && p.txn.machine.State() == txn.InTransaction {
		// A record of the transaction is missing: it must not commit.
		p.txn.machine.Fail(fmt.Errorf("%w: a record was refused: %w", ErrAbortable, err), false)
	}
	res := failedResult(rec, err)
	md, _ := res.metadata(0, -1)
	p.m.recordsFailed.Add(1)
	if sn != nil && sn.rec != nil && len(p.hooks.ack) > 0 {
		p.hooks.onAckNow(sn.ctx, sn.rec, md, err, sn.start)
	}
	for _, ic := range p.cfg.interceptors {
		ic.OnAcknowledgement(md, err)
	}
	if cb != nil {
		cb(md, err)
	}
	return Future{res: res}
}

// Flush makes every buffered record ready to send at once and waits until
// all records sent before the call are answered and their callbacks ran, or
// ctx ends. Called from a callback, Flush cannot wait for the callbacks
// queued behind the one it runs in: it returns once nothing is buffered or
// in flight any more, and those callbacks run after the current one
// returns.
func (p *Producer) Flush(ctx context.Context) error {
	if p.closing.Load() {
		return ErrClosed
	}
	return p.flushAll(ctx)
}

// flushAll sends everything buffered and waits for the answers (Flush,
// and the transaction calls, which also run while closing).
func (p *Producer) flushAll(ctx context.Context) error {
	g := p.acc.flushes.begin()
	p.acc.flushing.Add(1)
	defer p.acc.flushing.Add(-1)
	p.s.mb.wake()
	if p.cbs.onGoroutine() {
		return p.awaitAnswered(ctx)
	}
	return p.acc.flushes.wait(ctx, g)
}

// awaitAnswered waits until nothing is buffered or in flight, so every
// record sent so far is answered, though its callback may still be queued.
// It is the wait of calls made from a callback, which must not wait for
// the callbacks behind their own; it polls the sender, as such calls are
// rare.
func (p *Producer) awaitAnswered(ctx context.Context) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		idle := false
		if err := p.s.call(func() { idle = p.s.idle() }); err != nil || idle {
			return nil // a stopped sender has answered everything
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops accepting records, sends what is buffered, and waits for the
// answers and their callbacks, until ctx ends. An open transaction is
// aborted.
//
// When ctx ends first, the records not yet answered fail with ErrClosed
// and Close returns an error that matches ctx's (errors.Is). Their
// callbacks still get a short grace (100 ms) to run; if one is still
// running after that (a slow or stuck callback), Close returns anyway: no
// further callback starts (Metrics.CallbacksSkipped counts them; their
// Futures hold the outcome), and the callback goroutine exits as soon as
// the callback it is in returns. It is then the only goroutine of the
// producer left. Otherwise every goroutine of the producer has stopped
// when Close returns.
//
// Close may be called from a callback (to shut down on a fatal error, say).
// It then cannot wait for the callbacks queued behind the one it runs in:
// it logs a warning, sends what is buffered (until ctx ends, as above) and
// returns; the remaining callbacks, those of records it failed included,
// run after the current callback returns, and then the callback goroutine
// exits.
//
// Calling Close again waits for the first call (from a callback: for the
// records to be answered), or until its own ctx ends.
func (p *Producer) Close(ctx context.Context) error {
	fromCallback := p.cbs.onGoroutine()
	if !p.closing.CompareAndSwap(false, true) {
		if fromCallback {
			// The first Close may be waiting for this very callback.
			select {
			case <-p.s.life.stopped:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		select {
		case <-p.closeDone:
			return p.closeErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fromCallback {
		p.s.logf(slog.LevelWarn, "Close called from a callback: it does not wait for the callbacks queued behind this one; they run after it returns")
	}
	if p.txn != nil {
		// An open transaction is aborted rather than left to time out.
		if st := p.txn.machine.State(); st == txn.InTransaction || st == txn.AbortableError || st == txn.Aborting {
			_ = p.AbortTransaction(ctx)
		}
	}
	p.acc.closed.Store(true)
	p.bufs.close()
	p.s.life.stopping.Store(true)
	p.s.mb.wake()
	var err error
	select {
	case <-p.s.life.stopped:
	case <-ctx.Done():
		err = ctx.Err()
		abort := fmt.Errorf("%w: closed before the record was delivered: %w", ErrClosed, err)
		p.s.life.abortErr.CompareAndSwap(nil, &abort)
		p.s.mb.wake()
		<-p.s.life.stopped
	}
	if fromCallback {
		p.cbs.closeNoWait()
	} else if cerr := p.cbs.close(ctx); cerr != nil {
		err = cerr
	}
	p.md.Close()
	if p.s.spool != nil {
		if serr := p.s.spool.close(); serr != nil && err == nil {
			err = serr
		}
	}
	p.closeErr = err
	close(p.closeDone)
	return err
}

// PartitionInfo describes one partition of a topic.
type PartitionInfo struct {
	Topic     string
	Partition int32
	Leader    int32 // broker id, -1 when leaderless
}

// PartitionsFor returns the partitions of topic, loading its metadata if needed
// (waiting at most max.block or until ctx ends).
func (p *Producer) PartitionsFor(ctx context.Context, topic string) ([]PartitionInfo, error) {
	if p.closing.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := p.md.Topic(topic)
	if t == nil || len(t.Partitions) == 0 {
		var err error
		if t, err = p.waitTopic(ctx, topic, nanotime()); err != nil {
			return nil, err
		}
	}
	out := make([]PartitionInfo, len(t.Partitions))
	for i, part := range t.Partitions {
		out[i] = PartitionInfo{Topic: topic, Partition: part.ID, Leader: part.Leader}
	}
	return out, nil
}

// Metrics returns a snapshot of the producer's counters.
func (p *Producer) Metrics() Metrics { return p.m.snapshot(p.bufs) }
