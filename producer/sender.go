package producer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/idempotence"
	"github.com/kprod/kprod/internal/metadata"
	"github.com/kprod/kprod/internal/txn"
	"github.com/kprod/kprod/internal/wire"
	"github.com/kprod/kprod/partitioner"
)

// sender is the one goroutine that moves batches to brokers: it seals batches
// whose linger passed, drains ready ones per leader into produce requests,
// and handles the responses (which the connections' reader goroutines post
// back to it, so all in-flight state has a single owner).
type sender struct {
	cfg    *config
	acc    *accumulator
	bufs   *bufferPool
	conns  *wire.Pool
	md     *metadata.Client
	cbs    *completer
	m      *metrics
	log    *slog.Logger
	sticky *partitioner.Sticky
	txnID  *string

	wakeCh   chan struct{} // capacity 1: a pending wake-up
	postMu   sync.Mutex
	posted   []func()       // work from other goroutines; guarded by postMu
	running  []func()       // the slice being run; sender only
	answers  []*inflightReq // answered produce requests; guarded by postMu
	answered []*inflightReq // the slice being handled; sender only
	spareReq []*inflightReq // free list; sender only

	stopping atomic.Bool // Close: finish what is queued, then exit
	abortErr atomic.Pointer[error]
	fatalErr atomic.Pointer[error]
	stopped  chan struct{}
	txm      *txn.Machine // nil without a transactional id
	txc      *txn.Client  // nil without a transactional id
	// txnTouched is the producer's flag: set once the coordinator knows of
	// the open transaction.
	txnTouched *atomic.Bool
	ctx        context.Context // canceled when the sender exits
	cancel     context.CancelFunc

	// ---- sender goroutine only ----
	pid            idempotence.ID
	pidBusy        bool // an InitProducerId is running
	needReset      bool // sequences broke: new epoch once nothing is in flight
	inflight       int  // batches in flight, all brokers
	sealing        []*recBatch
	parallelCloses int64 // steps whose batches were compressed by helpers too (tests look)
	ready          []*partition
	byNode         map[int32][]*partition
	rotate         int
	loads          map[string][]int32
	blockedSince   map[int32]time.Time // node → since when it had data but could not take it
	unavailable    map[*partition]bool
	added          txn.PartitionSet // partitions in the open transaction (classic flow)
	adding         chan struct{}    // an AddPartitionsToTxn is running; closed once its answer is handled
	toAdd          map[string][]int32
}

func newSender(cfg *config, acc *accumulator, bufs *bufferPool, conns *wire.Pool, md *metadata.Client, cbs *completer, m *metrics, sticky *partitioner.Sticky) *sender {
	s := &sender{cfg: cfg, acc: acc, bufs: bufs, conns: conns, md: md, cbs: cbs, m: m, log: cfg.logger, sticky: sticky,
		wakeCh: make(chan struct{}, 1), stopped: make(chan struct{}), pid: idempotence.None,
		byNode: make(map[int32][]*partition), loads: make(map[string][]int32),
		blockedSince: make(map[int32]time.Time), unavailable: make(map[*partition]bool)}
	if cfg.txnID != "" {
		s.txnID = &cfg.txnID
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// wake makes the sender look at the accumulator again soon. Cheap and safe
// from any goroutine; wake-ups coalesce.
func (s *sender) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// post runs fn on the sender goroutine.
func (s *sender) post(fn func()) {
	s.postMu.Lock()
	s.posted = append(s.posted, fn)
	s.postMu.Unlock()
	s.wake()
}

func (s *sender) runPosted() {
	s.postMu.Lock()
	s.running, s.posted = s.posted, s.running[:0]
	s.answered, s.answers = s.answers, s.answered[:0]
	s.postMu.Unlock()
	for i, ir := range s.answered {
		s.handleResponse(ir, ir.resp, ir.err)
		s.recycleInflight(ir)
		s.answered[i] = nil
	}
	for i, fn := range s.running {
		fn()
		s.running[i] = nil
	}
}

func (s *sender) run() {
	defer close(s.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.runPosted()
		ep := s.abortErr.Load()
		if ep != nil {
			s.failQueued(*ep)
		}
		if s.stopping.Load() && (ep != nil || s.idle()) {
			break // in-flight requests are failed below
		}
		syncWallClock()
		wait := s.step(time.Now())
		if wait <= 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-s.wakeCh:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
	s.cancel()
	// Closing the connections answers every request still in flight; those
	// answers fail their batches, as nothing will retry them now.
	s.conns.Close()
	err := ErrClosed
	if ep := s.abortErr.Load(); ep != nil {
		err = *ep
	}
	s.abortErr.Store(&err)
	for s.inflight > 0 || s.pidBusy {
		s.runPosted()
		if s.inflight > 0 || s.pidBusy {
			<-s.wakeCh
		}
	}
	s.failQueued(err)
}

// idle reports whether nothing is queued or in flight.
func (s *sender) idle() bool {
	if s.inflight > 0 || s.pidBusy {
		return false
	}
	for _, p := range s.acc.partitions() {
		p.mu.Lock()
		busy := p.open != nil || len(p.queue) > 0
		p.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}

// step seals due batches, expires old ones, and sends what is ready. It
// returns how long the sender may sleep before something can become ready.
func (s *sender) step(now time.Time) time.Duration {
	next := now.Add(time.Minute)
	force := s.acc.flushing.Load() > 0 || s.acc.closed.Load() || s.bufs.waiting()
	s.sealing, s.ready = s.sealing[:0], s.ready[:0]
	adaptive := s.sticky != nil && s.cfg.adaptive
	if adaptive {
		for _, l := range s.loads {
			clear(l)
		}
	}
	var expired []*recBatch
	cutoff := now.Add(-s.cfg.deliveryTimeout) // batches created before this expired
	for _, p := range s.acc.partitions() {
		p.mu.Lock()
		// Batches closed by Send wait at the tail for the sender to compress them.
		tail := len(p.queue)
		for tail > 0 && !p.queue[tail-1].sealed {
			tail--
		}
		s.sealing = append(s.sealing, p.queue[tail:]...)
		if rb := p.open; rb != nil {
			if due := rb.created.Add(s.cfg.linger); force || p.urgent || !due.After(now) {
				s.acc.sealLocked(p, rb)
				s.sealing = append(s.sealing, rb)
			} else if due.Before(next) {
				next = due
			}
		}
		p.urgent = false
		expired = s.expireLocked(p, cutoff, expired)
		if len(p.queue) > 0 && p.queue[0].sealed {
			// Wake for the oldest batch's expiry too: nothing else may
			// wake the sender while its batches cannot go out. (A sealed
			// batch past it was taken out just above.)
			next = minTime(next, p.queue[0].created.Add(s.cfg.deliveryTimeout))
			if head := p.queue[0]; head.sealed {
				if head.retryAt.After(now) {
					next = minTime(next, head.retryAt)
				} else {
					s.ready = append(s.ready, p)
				}
			}
		}
		if adaptive {
			s.noteLoad(p)
		}
		p.mu.Unlock()
	}
	if adaptive {
		for topic, l := range s.loads {
			s.sticky.UpdateLoad(topic, l)
		}
	}
	for _, rb := range expired {
		err := fmt.Errorf("%w: %d records expired after %v", ErrDeliveryTimeout, rb.numRecords(), s.cfg.deliveryTimeout)
		if cause := cmp.Or(rb.lastErr, rb.part.lastErr); cause != nil {
			err = fmt.Errorf("%w (last error: %w)", err, cause)
		}
		s.fail(rb, err)
	}
	s.closeSealing()
	if len(s.sealing) > 0 {
		return 0 // look again: they are ready now
	}
	if len(s.ready) == 0 {
		return next.Sub(now)
	}
	mode := stampAll
	if s.cfg.idempotence {
		if mode = s.canStamp(); mode == stampNone {
			return next.Sub(now) // a posted InitProducerId answer wakes us
		}
	}
	if s.drain(now, mode) {
		return 0
	}
	return next.Sub(now)
}

// noteLoad adds p's queue depth to its topic's load vector (adaptive partitioning).
func (s *sender) noteLoad(p *partition) {
	l := s.loads[p.topic]
	if int(p.id) >= len(l) {
		grown := make([]int32, p.id+1)
		copy(grown, l)
		l = grown
		s.loads[p.topic] = l
	}
	depth := len(p.queue) + p.inflight()
	if p.open != nil {
		depth++
	}
	l[p.id] = int32(depth)
}

// expireLocked takes out of p's queue the batches whose delivery timeout
// passed. The queue is in creation order, so the scan stops at the first
// batch still in time. A batch in flight is not in the queue; it ends with
// its response.
func (s *sender) expireLocked(p *partition, cutoff time.Time, out []*recBatch) []*recBatch {
	n := 0
	for n < len(p.queue) && !p.queue[n].created.After(cutoff) {
		n++
	}
	if n == 0 {
		return out
	}
	kept := p.queue[:0]
	for i, rb := range p.queue {
		if i < n && rb.sealed {
			out = append(out, rb)
			continue
		}
		kept = append(kept, rb)
	}
	clear(p.queue[len(kept):])
	p.queue = kept
	return out
}

// stampMode says which batches may go out, for the idempotent producer.
type stampMode int8

const (
	stampNone    stampMode = iota // wait: no producer id yet, or a new one is coming
	stampAll                      // normal operation
	stampResolve                  // a new epoch is due: first resolve batches that may have been written
)

// canStamp says which batches may be sent now, starting an InitProducerId
// (first id, or a new epoch after a sequence break) when one is needed. A
// new epoch waits until every old-epoch batch in flight is answered and
// every batch that may already be in the log was resent under its old
// sequence, so that it cannot be written twice.
func (s *sender) canStamp() stampMode {
	if s.pidBusy || s.fatalErr.Load() != nil {
		return stampNone
	}
	if s.pid.Valid() && !s.needReset {
		return stampAll
	}
	if s.txc != nil {
		// Transactional: the id comes from InitTransactions. A broken
		// sequence made the transaction abortable (its abort takes a new
		// epoch), so what is still queued fails now rather than wait.
		if s.needReset {
			err := s.txm.Err()
			if err == nil {
				err = ErrAbortable
			}
			s.failQueued(err)
		}
		return stampNone
	}
	if s.needReset {
		if s.unresolved() {
			return stampResolve
		}
		if s.inflight > 0 {
			return stampNone
		}
	}
	s.pidBusy = true
	current := idempotence.None
	if s.needReset {
		current = s.pid
	}
	go s.initProducerID(current)
	return stampNone
}

// unresolved reports whether a queued batch may already be in the log.
func (s *sender) unresolved() bool {
	for _, p := range s.acc.partitions() {
		p.mu.Lock()
		for _, rb := range p.queue {
			if rb.maybeApplied && rb.seq >= 0 {
				p.mu.Unlock()
				return true
			}
		}
		p.mu.Unlock()
	}
	return false
}

// initProducerID runs InitProducerId off the sender goroutine and posts the result.
func (s *sender) initProducerID(current idempotence.ID) {
	do := func(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.requestTimeout)
		defer cancel()
		conn, err := s.conns.Any(ctx)
		if err != nil {
			return nil, err
		}
		return conn.Request(ctx, req)
	}
	id, err := idempotence.Init(s.ctx, do, s.txnID, s.cfg.txnTimeout, current, s.cfg.retryBackoff)
	s.post(func() { s.producerIDDone(id, err) })
}

func (s *sender) producerIDDone(id idempotence.ID, err error) {
	s.pidBusy = false
	if err != nil {
		if s.ctx.Err() != nil {
			return
		}
		s.logf(slog.LevelError, "cannot obtain a producer id; failing every record", "err", err)
		s.setFatal(err)
		return
	}
	s.adoptID(id, false)
}

// adoptID makes id the producer id and epoch of new batches. A new id or
// epoch restarts every partition's sequences at 0 (queued batches get new
// sequences when they are sent); a transaction's end also forgets which
// partitions joined it.
func (s *sender) adoptID(id idempotence.ID, txnEnded bool) {
	if txnEnded {
		s.added.Reset()
	}
	old, reset := s.pid, s.needReset
	s.pid, s.needReset = id, false
	if old == id {
		return
	}
	switch {
	case reset:
		s.m.pidResets.Add(1)
		s.logf(slog.LevelWarn, "producer took a new epoch; sequences restart at 0", "producer_id", id.ProducerID, "epoch", id.Epoch)
	case !old.Valid():
		s.logf(slog.LevelInfo, "idempotent producer ready", "producer_id", id.ProducerID, "epoch", id.Epoch)
	}
	for _, p := range s.acc.partitions() {
		p.mu.Lock()
		p.nextSeq, p.confirmed = 0, false
		for _, rb := range p.queue {
			rb.seq, rb.maybeApplied, rb.sends, rb.doubtfulSeqErrs = -1, false, 0, 0
		}
		p.mu.Unlock()
	}
}

// setFatal ends the producer: every record queued and every later Send fails with err.
func (s *sender) setFatal(err error) {
	if !errors.Is(err, ErrFatal) {
		err = fmt.Errorf("%w: %w", ErrFatal, err)
	}
	if s.fatalErr.CompareAndSwap(nil, &err) {
		s.abortErr.CompareAndSwap(nil, &err)
		if s.txm != nil {
			s.txm.Fail(err, true)
		}
		s.wake()
	}
}

// call runs fn on the sender goroutine and waits for it; it fails with
// ErrClosed once the sender has stopped.
func (s *sender) call(fn func()) error {
	done := make(chan struct{})
	s.post(func() { fn(); close(done) })
	select {
	case <-done:
		return nil
	case <-s.stopped:
		select {
		case <-done:
			return nil
		default:
			return ErrClosed
		}
	}
}

// drain builds at most one produce request per broker from the ready
// partitions and writes it. It reports whether anything was sent.
func (s *sender) drain(now time.Time, mode stampMode) bool {
	for node, ps := range s.byNode {
		clear(ps)
		s.byNode[node] = ps[:0] // keep the slices: no allocation per drain
	}
	for _, p := range s.ready {
		leader := s.leader(p)
		if leader < 0 {
			s.md.Trigger("no leader for " + p.topic)
			continue
		}
		s.byNode[leader] = append(s.byNode[leader], p)
	}
	sent := false
	s.rotate++
	for node, parts := range s.byNode {
		if len(parts) == 0 {
			continue
		}
		conn, err := s.conns.Ready(node, wire.Produce)
		if conn == nil || conn.InFlight() >= s.cfg.maxInFlight {
			if unreachable(err) {
				// The leader may have gone for good: ask who leads now
				// rather than wait for the periodic refresh.
				s.md.Trigger("broker unreachable")
			}
			s.noteBlocked(node, parts, now)
			continue
		}
		s.noteUnblocked(node, parts)
		if s.cfg.codec == batch.Zstd {
			if v, ok := conn.MaxVersion(0); !ok || v < 7 {
				s.failUnsupported(parts)
				continue
			}
		}
		implicit := false // partitions join a transaction through Produce v12+ (transactions v2)
		if s.txc != nil && s.txc.V2() {
			v, _ := conn.MaxVersion(0)
			implicit = v >= 12
		}
		if req := s.buildRequest(node, conn, parts, now, mode, implicit); req != nil {
			if implicit {
				s.txnTouched.Store(true) // the broker adds the partitions as it takes the batches
			}
			s.send(conn, req)
			sent = true
		}
	}
	if len(s.toAdd) > 0 && s.adding == nil {
		s.addPartitions()
	}
	return sent
}

// unreachable reports whether err, from the pool's Ready, says the broker
// could not be reached (a failed dial or a dropped connection, and now
// backing off) rather than that a dial is still running.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var nr *wire.NotReadyError
	if errors.As(err, &nr) {
		return !nr.Dialing
	}
	return true
}

// joined reports whether p's batches may go out in the open transaction; if
// p has not been added to it yet (classic flow), it is noted for the next
// AddPartitionsToTxn.
func (s *sender) joined(p *partition, implicit bool) bool {
	if s.txc == nil || implicit || s.added.Has(p.topic, p.id) {
		return true
	}
	if s.toAdd == nil {
		s.toAdd = make(map[string][]int32)
	}
	for _, id := range s.toAdd[p.topic] {
		if id == p.id {
			return false
		}
	}
	s.toAdd[p.topic] = append(s.toAdd[p.topic], p.id)
	return false
}

// addPartitions registers the noted partitions with the transaction
// coordinator, off the sender goroutine.
func (s *sender) addPartitions() {
	parts, id := s.toAdd, s.pid
	done := make(chan struct{})
	s.toAdd, s.adding = nil, done
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.deliveryTimeout)
		defer cancel()
		err := s.txc.AddPartitions(ctx, id, parts)
		s.post(func() { s.partitionsAdded(parts, err); close(done) })
	}()
}

// partitionsAdded records the outcome of an AddPartitionsToTxn. On failure
// the transaction cannot commit, and the records waiting for those
// partitions fail with the reason.
func (s *sender) partitionsAdded(parts map[string][]int32, err error) {
	s.adding = nil
	if err == nil {
		s.added.AddAll(parts)
		s.txnTouched.Store(true)
		return
	}
	s.logf(slog.LevelWarn, "adding partitions to the transaction failed", "err", err)
	if errors.Is(err, txn.ErrFenced) || errors.Is(err, txn.ErrFatal) {
		s.setFatal(err)
	} else {
		s.txm.Fail(err, false)
	}
	for topic, ids := range parts {
		for _, id := range ids {
			for _, rb := range s.takeQueued(s.acc.partition(topic, id), false) {
				s.fail(rb, err)
			}
		}
	}
}

// leader is the node leading p, or -1.
func (s *sender) leader(p *partition) int32 {
	t := s.md.Topic(p.topic)
	if t == nil || int(p.id) >= len(t.Partitions) {
		return -1
	}
	return t.Partitions[p.id].Leader
}

// buildRequest takes at most one batch from each partition (starting at a
// rotating offset, for fairness) until max.request.size.
func (s *sender) buildRequest(node int32, conn *wire.Conn, parts []*partition, now time.Time, mode stampMode, implicit bool) *inflightReq {
	aborting := s.txm != nil && s.txm.State() == txn.Aborting
	var req *inflightReq
	size := 0
	for i := range parts {
		p := parts[(i+s.rotate)%len(parts)]
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.mu.Unlock()
			continue
		}
		rb := p.queue[0]
		switch {
		case !rb.sealed || rb.retryAt.After(now):
			rb = nil
		case !s.mayGo(p, rb, conn):
			rb = nil
		case mode == stampResolve && !rb.maybeApplied:
			rb = nil // only batches that may be in the log go before the new epoch
		case aborting && rb.seq < 0:
			// Not sent yet, and its transaction is being aborted: it fails below.
		case !s.joined(p, implicit):
			rb = nil
		case req != nil && size+len(rb.b.Bytes()) > s.cfg.maxRequestSize:
			rb = nil
		}
		if rb == nil {
			p.mu.Unlock()
			continue
		}
		p.popHead()
		p.mu.Unlock()
		if rb.sealErr != nil {
			s.fail(rb, rb.sealErr)
			continue
		}
		if aborting && rb.seq < 0 {
			s.fail(rb, ErrAborted)
			continue
		}
		if s.cfg.idempotence && rb.seq < 0 {
			rb.seq = p.nextSeq
			p.nextSeq = idempotence.NextSequence(p.nextSeq, rb.numRecords())
			rb.b.Stamp(s.pid.ProducerID, s.pid.Epoch, rb.seq, s.txnID != nil)
		}
		if req == nil {
			req = s.newInflight(node)
		}
		req.batches = append(req.batches, rb)
		size += len(rb.b.Bytes())
		rb.sends, rb.conn = rb.sends+1, conn
		p.sent = append(p.sent, rb)
		s.inflight++
	}
	return req
}

// mayGo reports whether rb, the head of p's queue, may go out now, given
// p's batches in flight. The rules keep p's sequences in order at the broker,
// and keep every resend of a batch that may already be in the log inside
// the broker's memory of the producer's last five batches of the partition,
// where it is recognised as a duplicate:
//   - a batch that went out before goes alone, once every batch sent before
//     it is answered;
//   - while a resend is in flight, nothing else of p goes;
//   - until a batch of the current producer id and epoch is acknowledged
//     (and always with max.in.flight 1), one batch at a time;
//   - never more than max.in.flight batches of p unanswered, counted by the
//     sender (a connection frees its slot before the sender has handled the
//     answer, so its count alone would let a sixth batch out);
//   - all of p's batches in flight on one connection (after a leader move,
//     or beside a connection being retired), whose answers come back in the
//     order the batches went: an earlier batch's answer cannot trail behind
//     the acknowledgements of more than max.in.flight-1 later ones.
func (s *sender) mayGo(p *partition, rb *recBatch, conn *wire.Conn) bool {
	n := p.inflight()
	switch {
	case n == 0:
		return true
	case rb.sends > 0, n >= s.cfg.maxInFlight, s.cfg.maxInFlight == 1, p.sent[0].conn != conn:
		return false
	case s.cfg.idempotence && !p.confirmed:
		return false
	}
	return !p.resendInFlight()
}

// noteBlocked and noteUnblocked track brokers that cannot take data, so the
// sticky partitioner can avoid their partitions (availability timeout).
func (s *sender) noteBlocked(node int32, parts []*partition, now time.Time) {
	if s.cfg.availabilityTimeout <= 0 || s.sticky == nil {
		return
	}
	since, ok := s.blockedSince[node]
	if !ok {
		s.blockedSince[node] = now
		return
	}
	if now.Sub(since) < s.cfg.availabilityTimeout {
		return
	}
	for _, p := range parts {
		if !s.unavailable[p] {
			s.unavailable[p] = true
			s.sticky.SetUnavailable(p.topic, p.id, true)
		}
	}
}

func (s *sender) noteUnblocked(node int32, parts []*partition) {
	if s.cfg.availabilityTimeout <= 0 || s.sticky == nil {
		return
	}
	delete(s.blockedSince, node)
	for _, p := range parts {
		if s.unavailable[p] {
			delete(s.unavailable, p)
			s.sticky.SetUnavailable(p.topic, p.id, false)
		}
	}
}

// failUnsupported fails the ready batches of a broker that cannot take the
// configured codec.
func (s *sender) failUnsupported(parts []*partition) {
	err := fmt.Errorf("%w: zstd needs Produce v7+ (Kafka 2.1)", ErrUnsupported)
	for _, p := range parts {
		for _, rb := range s.takeQueued(p, false) {
			s.fail(rb, err)
		}
	}
}

// takeQueued removes from p the batches not in flight: those in the queue
// and, with open, the open batch too.
func (s *sender) takeQueued(p *partition, open bool) []*recBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.queue
	p.queue = nil
	if rb := p.open; open && rb != nil {
		p.open = nil
		out = append(out, rb)
	}
	return out
}

// failQueued fails every batch not in flight: open, closed and waiting for
// a retry.
func (s *sender) failQueued(err error) {
	for _, p := range s.acc.partitions() {
		for _, rb := range s.takeQueued(p, true) {
			s.fail(rb, err)
		}
	}
}

// backoff is the wait before retry number attempt (1-based): doubling from
// retry.backoff.ms up to retry.backoff.max.ms, ±20% jitter.
func (s *sender) backoff(attempt int) time.Duration {
	d := s.cfg.retryBackoff
	for i := 1; i < attempt && d < s.cfg.retryBackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.retryBackoffMax)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

func (s *sender) logf(level slog.Level, msg string, args ...any) {
	if s.log != nil {
		s.log.Log(context.Background(), level, "kprod: "+msg, args...)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
