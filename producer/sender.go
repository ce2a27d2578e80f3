package producer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// sender is the one goroutine that moves batches to brokers. Each step it
// scans the accumulator (which closes batches whose linger passed and takes
// out expired ones), finishes the closed batches, and drains the ready ones
// per leader into produce requests. The connections' reader goroutines post
// the answers to its mailbox and it handles them itself, so everything about
// a batch from the moment it is closed until it is done has one owner.
//
// Besides its own fields, the sender goroutine owns: each partition's
// fields below its padding (in-flight list, sequences), the producer id
// (ids), the transaction's partition registration (txn, see transaction),
// and the feedback to the partitioner (avail).
type sender struct {
	// What it works with, all built before it.
	cfg   *config
	acc   *accumulator
	bufs  *bufferPool
	conns *wire.Pool
	md    *metadata.Client
	cbs   *completer
	m     *metrics
	hooks *hookRunner
	log   *slog.Logger
	mb    *mailbox
	txn   *transaction // nil without a transactional id
	life  lifecycle    // how it ends; any goroutine

	// ---- sender goroutine only ----
	ids       producerID
	avail     *availability
	inflight  int                    // batches in flight, all brokers
	scan      scanResult             // the last scan of the accumulator
	byNode    map[int32][]*partition // ready partitions by leader, per drain
	rotate    int                    // where a request starts among a broker's partitions (fairness)
	spareReq  []*inflightReq         // free list of produce requests
	finishers finishers              // helpers compressing closed batches
	clock     busyClock              // Send's clock while busy; its own atomics
	spool     *spooler               // the disk spool; nil without WithSpool
}

// lifecycle is how the sender ends. Safe from any goroutine.
type lifecycle struct {
	stopping atomic.Bool           // Close: finish what is queued, then exit
	abortErr atomic.Pointer[error] // set: fail what is queued with it and retry nothing
	fatalErr atomic.Pointer[error] // set: the producer is unusable; every Send fails with it
	stopped  chan struct{}         // closed once the sender goroutine exited
	ctx      context.Context       // canceled when the sender exits: ends its helpers' requests
	cancel   context.CancelFunc
}

func newSender(cfg *config, acc *accumulator, bufs *bufferPool, conns *wire.Pool, md *metadata.Client, cbs *completer,
	m *metrics, mb *mailbox, t *transaction, sticky *partitioner.Sticky, hooks *hookRunner) *sender {
	s := &sender{cfg: cfg, acc: acc, bufs: bufs, conns: conns, md: md, cbs: cbs, m: m, hooks: hooks, log: cfg.logger, mb: mb, txn: t,
		ids: producerID{id: idempotence.None}, avail: newAvailability(cfg, sticky), byNode: make(map[int32][]*partition)}
	s.life.stopped = make(chan struct{})
	s.clock.count, s.clock.rate = m.batchRecords.Load, cfg.busyRate
	s.life.ctx, s.life.cancel = context.WithCancel(context.Background())
	if s.avail.adaptive {
		s.scan.depth = s.avail.noteDepth // bound once: no allocation per scan
	}
	return s
}

// handlePosted handles the answered requests and runs the functions posted
// since the last call.
func (s *sender) handlePosted() {
	answers, fns := s.mb.take()
	for i, ir := range answers {
		s.handleResponse(ir, ir.resp, ir.err)
		s.recycleInflight(ir)
		answers[i] = nil
	}
	for i, fn := range fns {
		fn()
		fns[i] = nil
	}
}

func (s *sender) run() {
	defer close(s.life.stopped)
	defer s.finishers.stop()
	defer s.clock.stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.handlePosted()
		ep := s.life.abortErr.Load()
		if ep != nil {
			s.failQueued(*ep)
		}
		if s.life.stopping.Load() && (ep != nil || s.idle()) {
			break // in-flight requests are failed below
		}
		syncWallClock()
		now := time.Now()
		s.clock.observe(int64(now.Sub(clockBase)))
		wait := s.step(now)
		if wait <= 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-s.mb.wakeCh:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
	s.life.cancel()
	// Closing the connections answers every request still in flight; those
	// answers fail their batches, as nothing will retry them now.
	s.conns.Close()
	err := ErrClosed
	if ep := s.life.abortErr.Load(); ep != nil {
		err = *ep
	}
	s.life.abortErr.Store(&err)
	for s.inflight > 0 || s.ids.initializing {
		s.handlePosted()
		if s.inflight > 0 || s.ids.initializing {
			<-s.mb.wakeCh
		}
	}
	s.failQueued(err)
}

// idle reports whether nothing is queued or in flight.
func (s *sender) idle() bool {
	return s.inflight == 0 && !s.ids.initializing && s.acc.empty()
}

// step scans the accumulator, finishes what it closed, fails what expired,
// and sends what is ready. It returns how long the sender may sleep before
// something can become ready.
func (s *sender) step(now time.Time) time.Duration {
	force := s.acc.flushing.Load() > 0 || s.acc.closed.Load() || s.bufs.waiting()
	s.avail.beginScan()
	s.acc.scan(now, force, &s.scan)
	s.avail.publish()
	for _, rb := range s.scan.expired {
		err := fmt.Errorf("%w: %d records expired after %v", ErrDeliveryTimeout, rb.numRecords(), s.cfg.deliveryTimeout)
		if cause := cmp.Or(rb.lastErr, rb.part.lastErr); cause != nil {
			err = fmt.Errorf("%w (last error: %w)", err, cause)
		}
		s.fail(rb, err)
	}
	s.finishClosed()
	next := s.scan.next
	if len(s.scan.toFinish) > 0 {
		return 0 // look again: they are ready now
	}
	sent := false
	if len(s.scan.ready) > 0 {
		mode := stampAll
		if s.cfg.idempotence {
			mode = s.canStamp() // stampNone: a posted InitProducerId answer wakes us
			if mode == stampNone && s.spool != nil && s.spool.foreign > 0 {
				mode = stampForeign // replayed batches carry their stamps
			}
		}
		if mode != stampNone {
			sent = s.drain(now, mode)
		}
	}
	if s.spool != nil {
		next = minTime(next, s.spool.step(s, now))
	}
	if sent {
		return 0
	}
	return next.Sub(now)
}

// setFatal ends the producer: every record queued and every later Send fails with err.
func (s *sender) setFatal(err error) {
	if !errors.Is(err, ErrFatal) {
		err = fmt.Errorf("%w: %w", ErrFatal, err)
	}
	if s.life.fatalErr.CompareAndSwap(nil, &err) {
		s.life.abortErr.CompareAndSwap(nil, &err)
		if s.txn != nil {
			s.txn.machine.Fail(err, true)
		}
		s.mb.wake()
	}
}

// call runs fn on the sender goroutine and waits for it; it fails with
// ErrClosed once the sender has stopped.
func (s *sender) call(fn func()) error {
	done := make(chan struct{})
	s.mb.post(func() { fn(); close(done) })
	select {
	case <-done:
		return nil
	case <-s.life.stopped:
		select {
		case <-done:
			return nil
		default:
			return ErrClosed
		}
	}
}

// anyBroker sends req to any broker, within the request timeout.
func (s *sender) anyBroker(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.requestTimeout)
	defer cancel()
	conn, err := s.conns.Any(ctx)
	if err != nil {
		return nil, err
	}
	return conn.Request(ctx, req)
}

// drain builds at most one produce request per broker from the ready
// partitions and writes it. It reports whether anything was sent.
func (s *sender) drain(now time.Time, mode stampMode) bool {
	for node, ps := range s.byNode {
		clear(ps)
		s.byNode[node] = ps[:0] // keep the slices: no allocation per drain
	}
	for _, p := range s.scan.ready {
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
			s.avail.blocked(node, parts, now)
			continue
		}
		s.avail.unblocked(node, parts)
		if s.cfg.codec == batch.Zstd {
			if v, ok := conn.MaxVersion(0); !ok || v < 7 {
				s.failUnsupported(parts)
				continue
			}
		}
		implicit := s.txn.implicit(conn)
		if req := s.buildRequest(node, conn, parts, now, mode, implicit); req != nil {
			if s.spool != nil {
				s.spool.sync() // stamp entries reach the disk before their batches reach the broker
			}
			if implicit {
				s.txn.touched.Store(true) // the broker adds the partitions as it takes the batches
			}
			s.send(conn, req)
			sent = true
		}
	}
	if s.txn != nil && len(s.txn.toAdd) > 0 && s.txn.adding == nil {
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

// leader is the node leading p, or -1. A topic with batches to send is in
// use: it stays in the metadata refreshes (metadata.max.idle.ms counts from
// the last Send), and comes back if it was dropped as idle while they
// waited.
func (s *sender) leader(p *partition) int32 {
	t := s.md.Topic(p.topic)
	if t == nil {
		s.md.Want(p.topic)
		return -1
	}
	t.MarkUsed()
	if int(p.id) >= len(t.Partitions) {
		return -1
	}
	return t.Partitions[p.id].Leader
}

// buildRequest takes at most one batch from each partition (starting at a
// rotating offset, for fairness) until max.request.size.
func (s *sender) buildRequest(node int32, conn *wire.Conn, parts []*partition, now time.Time, mode stampMode, implicit bool) *inflightReq {
	aborting := s.txn != nil && s.txn.machine.State() == txn.Aborting
	var req *inflightReq
	size := 0
	for i := range parts {
		p := parts[(i+s.rotate)%len(parts)]
		rb := s.acc.head(p, now)
		switch {
		case rb == nil:
			continue
		case !s.mayGo(p, rb, conn):
			continue
		case mode == stampResolve && !rb.maybeApplied && !rb.foreign:
			continue // only batches that may be in the log go before the new epoch
		case mode == stampForeign && !rb.foreign:
			continue // no producer id yet: only replayed batches, which carry their stamps
		case aborting && rb.seq < 0:
			// Not sent yet, and its transaction is being aborted: it fails.
			s.acc.pop(p, rb)
			s.fail(rb, ErrAborted)
			continue
		case !s.txn.joined(p, implicit):
			continue
		case req != nil && size+rb.wireLen() > s.cfg.maxRequestSize:
			continue
		case rb.onDisk && !s.spool.reload(s, rb):
			continue // no read-back memory now, or it failed
		case s.cfg.idempotence && rb.seq < 0 && rb.finishErr == nil && !s.stampSpooled(p, rb):
			continue // its stamp entry could not be written: it waits
		}
		s.acc.pop(p, rb)
		if rb.finishErr != nil {
			s.fail(rb, rb.finishErr)
			continue
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
//   - a batch replayed from the spool under an earlier producer's stamp
//     goes alone (replay.go);
//   - all of p's batches in flight on one connection (after a leader move,
//     or beside a connection being retired), whose answers come back in the
//     order the batches went: an earlier batch's answer cannot trail behind
//     the acknowledgements of more than max.in.flight-1 later ones.
func (s *sender) mayGo(p *partition, rb *recBatch, conn *wire.Conn) bool {
	n := p.inflight()
	switch {
	case n == 0:
		return true
	case rb.foreign, p.sent[n-1].foreign:
		return false // replayed batches go one at a time, and alone
	case rb.sends > 0, n >= s.cfg.maxInFlight, s.cfg.maxInFlight == 1, p.sent[0].conn != conn:
		return false
	case s.cfg.idempotence && !p.seq.confirmed:
		return false
	}
	return !p.resendInFlight()
}

// failUnsupported fails the ready batches of a broker that cannot take the
// configured codec.
func (s *sender) failUnsupported(parts []*partition) {
	err := fmt.Errorf("%w: zstd needs Produce v7+ (Kafka 2.1)", ErrUnsupported)
	for _, p := range parts {
		for _, rb := range s.acc.takeQueued(p, false) {
			s.fail(rb, err)
		}
	}
}

// failQueued fails every batch not in flight: open, closed and waiting for
// a retry.
func (s *sender) failQueued(err error) {
	for _, p := range s.acc.partitions() {
		for _, rb := range s.acc.takeQueued(p, true) {
			s.fail(rb, err)
		}
	}
}

func (s *sender) logf(level slog.Level, msg string, args ...any) {
	if s.log != nil {
		s.log.Log(context.Background(), level, "kprod: "+msg, args...)
	}
}
