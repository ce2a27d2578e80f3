package producer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The fault storm: an idempotent producer with the defaults, except
// linger.ms=2, batch.size=2048, retry.backoff.ms=5, retry.backoff.max.ms=100
// and request.timeout.ms=2000, against an in-process 3-broker kfake cluster
// with two topics of 8 partitions. Four goroutines send for a fixed time
// (a third of the records unkeyed, the rest with one of 64 keys, topics
// alternating) while, every few milliseconds, one fault is set up, the
// kinds taking turns:
//
//   - an error code on the next produce request of a random partition (at
//     most one unhit fault per partition): retriable codes the broker
//     answers before writing anything; REQUEST_TIMED_OUT and
//     NOT_ENOUGH_REPLICAS_AFTER_APPEND, which kfake answers after the
//     append (the batch is in the log, the client sees an error); spurious
//     OUT_OF_ORDER_SEQUENCE_NUMBER and UNKNOWN_PRODUCER_ID, on the first
//     send of a batch only (see firstAttempt);
//   - a connection dropped before the broker reads a produce request (a
//     kfake control answering with an error), or after the broker wrote it,
//     the response lost (the producer's dialer closes the connection as the
//     response arrives);
//   - a leader move (MoveTopicPartition), on top of ShufflePartitionLeaders
//     every 100–200ms;
//   - a produce request held in the broker for 5–30ms (SleepControl, with
//     kfake's SleepOutOfOrder); one in 16 is held past the request timeout,
//     so the producer resends on a new connection while the broker still
//     holds the old request, which it handles later. (kfake handles the
//     requests of one connection one at a time, whatever SleepOutOfOrder
//     says, so a held request delays those behind it on its connection
//     rather than letting them overtake it.)
//
// Drops and holds land on the n-th produce request after they are set up
// (n random in 1..10), so they spread over requests when requests are few.
// The transactional storm adds coordinator faults (storm_txn_test.go).
//
// Afterwards an independent reader (franz-go's kgo consumer) reads both
// topics to their end and the test checks the producer's promise: every
// callback exactly once, no record failed, every record in the log exactly
// once, per (sender, partition) the log order is the send order, and every
// acknowledged offset is the record's real one. A producer that answers
// nothing for stormStallAfter once the senders stopped has stalled: the
// test fails then, with a goroutine dump in a file.
//
// Every random choice comes from math/rand/v2 seeded with the storm's seed;
// the seed is logged, and KPROD_STORM_SEED=<n> runs that seed alone (the
// storm is time-driven, so a replay has the same choices of faults, not the
// same interleaving). The long versions (Test*Long) run when CI is set.

var stormTopics = []string{"storm-a", "storm-b"}

const (
	stormPartitions = 8
	stormKeys       = 64
	stormTxnID      = "storm-txn"
	// stormRequestTimeout is the producer's request.timeout.ms.
	stormRequestTimeout = 2 * time.Second
	// stormStallAfter: once the senders stopped, a producer that answers no
	// record for this long has stalled (faults stop with the senders; the
	// longest a healthy producer waits is a request timeout or two). A Send
	// blocked this long past the end of sending fails with its context.
	stormStallAfter = 10 * time.Second
)

// The error codes of the storm, in groups.
var (
	// Applied after the append by kfake: the batch is in the log while the
	// client sees an error.
	afterAppendCodes = []*kerr.Error{kerr.RequestTimedOut, kerr.NotEnoughReplicasAfterAppend}
	// Retriable, answered before the broker writes anything.
	beforeAppendCodes = []*kerr.Error{
		kerr.NotLeaderForPartition, kerr.LeaderNotAvailable, kerr.NetworkException,
		kerr.UnknownTopicOrPartition, kerr.KafkaStorageError, kerr.FencedLeaderEpoch,
		kerr.UnknownLeaderEpoch, kerr.CorruptMessage, kerr.NotEnoughReplicas,
	}
	// Spurious sequence errors: the broker saw no gap and knows the producer.
	sequenceCodes = []*kerr.Error{kerr.OutOfOrderSequenceNumber, kerr.UnknownProducerID}
	// Transaction coordinator errors, on AddPartitionsToTxn, EndTxn,
	// InitProducerId and FindCoordinator.
	coordinatorCodes = []*kerr.Error{kerr.ConcurrentTransactions, kerr.NotCoordinator, kerr.CoordinatorLoadInProgress}
)

// Fault kinds other than error codes, as the storm's statistics name them.
const (
	kindDropBefore = "connection dropped before the broker read a produce request"
	kindDropAfter  = "connection dropped after the broker wrote a produce request (response lost)"
	kindMove       = "MoveTopicPartition"
	kindShuffle    = "ShufflePartitionLeaders"
	kindSleep      = "produce request held in the broker (SleepControl; a few past the request timeout)"
	kindRehash     = "RehashCoordinators"
	kindEndTxnLost = "connection dropped after the coordinator ended a transaction (EndTxn response lost)"
)

// stormMix says which faults a storm injects.
type stormMix struct {
	name  string
	codes []*kerr.Error // produce error codes
	drops bool          // both kinds of dropped connection
	moves bool          // MoveTopicPartition now and then, ShufflePartitionLeaders every 100–200ms
	sleep bool          // produce requests held in the broker (SleepControl with SleepOutOfOrder)
	// longHoldOneIn: one hold in this many outlasts the request timeout (0: none).
	longHoldOneIn int
	coord         bool // coordinator faults (transactional storms only)
}

func (m stormMix) empty() bool {
	return len(m.codes) == 0 && !m.drops && !m.moves && !m.sleep && !m.coord
}

var (
	mixAfterAppend  = stormMix{name: "after-append", codes: afterAppendCodes}
	mixBeforeAppend = stormMix{name: "before-append", codes: beforeAppendCodes}
	mixSequence     = stormMix{name: "sequence", codes: sequenceCodes}
	mixDropsMoves   = stormMix{name: "drops-moves", drops: true, moves: true}
	// In the mix the after-append codes take three turns a round each:
	// they are what puts a batch in the log while the client sees an
	// error, the case the promise hangs on, and with one turn in 17 a short
	// storm sees too few of them.
	mixAll = stormMix{name: "mixed", codes: slices.Concat(beforeAppendCodes, afterAppendCodes, afterAppendCodes,
		afterAppendCodes, sequenceCodes), drops: true, moves: true, sleep: true, longHoldOneIn: 16}
	mixNone = stormMix{name: "no faults"}
)

// stormConfig describes one storm run.
type stormConfig struct {
	mix         stormMix
	seed        uint64
	senders     int
	rate        int           // records/s per sender; 0 sends as fast as Send takes them
	duration    time.Duration // how long the senders send (and faults land)
	every       time.Duration // one fault per period
	drain       time.Duration // bound on the wait for the last answer once the senders stopped
	txn         bool          // transactional (see storm_txn_test.go)
	clusterOpts []kfake.Opt
	opts        []Opt // producer options beyond the storm's
}

// stormSeeds are the seeds a storm runs with: KPROD_STORM_SEED alone when
// set, else the first n of a fixed list.
func stormSeeds(t *testing.T, n int) []uint64 {
	if s := os.Getenv("KPROD_STORM_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KPROD_STORM_SEED=%q: %v", s, err)
		}
		return []uint64{seed}
	}
	return []uint64{1, 2, 3, 4, 5, 6, 7, 8}[:n]
}

// skipUnlessCI skips the long storms outside CI.
func skipUnlessCI(t *testing.T) {
	if os.Getenv("CI") == "" {
		t.Skip("long storm: runs when CI is set (CI=1 go test -race -run 'Storm.*Long' ./producer)")
	}
}

// TestStorm is the short idempotent storm: each group of faults alone for
// 1 s (after-append errors, retriable errors before the append, spurious
// sequence errors, dropped connections with leader moves), then every kind
// mixed for 2 s over two seeds. The groups run in parallel (-parallel, by
// default GOMAXPROCS at a time): a paced storm keeps about half a core busy.
func TestStorm(t *testing.T) {
	idempotentStorms(t, time.Second, 2*time.Second, stormSeeds(t, 2), true)
}

// TestStormLong is the CI version of TestStorm: each group for 4 s, the mix
// for 6 s over 5 seeds.
func TestStormLong(t *testing.T) {
	skipUnlessCI(t)
	idempotentStorms(t, 4*time.Second, 6*time.Second, stormSeeds(t, 5), false)
}

func idempotentStorms(t *testing.T, groupFor, mixFor time.Duration, seeds []uint64, parallel bool) {
	for _, mix := range []stormMix{mixAfterAppend, mixBeforeAppend, mixSequence, mixDropsMoves, mixAll} {
		t.Run(mix.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			d, n := groupFor, 1 // one seed per group, all of them for the mix
			if mix.name == mixAll.name {
				d, n = mixFor, len(seeds)
			}
			for _, seed := range seeds[:n] {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					res := runStorm(t, stormConfig{mix: mix, seed: seed, senders: 4, rate: 5000,
						duration: d, every: 5 * time.Millisecond, drain: 30 * time.Second})
					res.check(t)
				})
			}
		})
	}
}

// TestStormUnpaced sends as fast as Send takes records for 1 s: without
// faults, under the after-append storm of the issue (REQUEST_TIMED_OUT and
// NOT_ENOUGH_REPLICAS_AFTER_APPEND every 5 ms), and under every kind mixed.
// Each storm's backlog must drain within 10 s with no delivery timeout, and
// the log must be right; the throughput of each is logged next to the
// fault-free one.
func TestStormUnpaced(t *testing.T) {
	for _, seed := range stormSeeds(t, 1) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			unpacedStorm(t, seed, time.Second, 10*time.Second)
		})
	}
}

// TestStormUnpacedLong is the CI version: 5 s of sending, two seeds.
func TestStormUnpacedLong(t *testing.T) {
	skipUnlessCI(t)
	for _, seed := range stormSeeds(t, 2) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			unpacedStorm(t, seed, 5*time.Second, 15*time.Second)
		})
	}
}

// unpacedStorm runs the unpaced workload for d without faults, then under
// the after-append storm and the mixed one, and compares the throughput.
// Draining the backlog once the senders stop may take maxDrain;
// delivery.timeout is 30 s, so a stalled record fails well within the test.
func unpacedStorm(t *testing.T, seed uint64, d, maxDrain time.Duration) {
	cfg := stormConfig{seed: seed, senders: 4, duration: d, every: 5 * time.Millisecond, drain: 40 * time.Second,
		opts: []Opt{WithDeliveryTimeout(30 * time.Second)}}
	var base *stormResult
	t.Run("no faults", func(t *testing.T) {
		c := cfg
		c.mix = mixNone
		base = runStorm(t, c)
		base.check(t)
	})
	for _, mix := range []stormMix{mixAfterAppend, mixAll} {
		t.Run(mix.name, func(t *testing.T) {
			c := cfg
			c.mix = mix
			res := runStorm(t, c)
			res.check(t)
			if !res.stalled && res.drainTime > maxDrain { // a stall is reported as such
				t.Errorf("draining the backlog took %v after the senders stopped, more than %v",
					res.drainTime.Round(time.Millisecond), maxDrain)
			}
			if base != nil { // -run may have skipped it
				t.Logf("unpaced, seed %d: %.0f records/s acknowledged under the %s storm, %.0f without faults (%.0f%%); "+
					"backlog drained in %v vs %v",
					seed, res.ackRate(), mix.name, base.ackRate(), 100*res.ackRate()/max(base.ackRate(), 1),
					res.drainTime.Round(time.Millisecond), base.drainTime.Round(time.Millisecond))
			}
		})
	}
}

// ---- the run ----

// stormRec is what the storm knows of one record.
type stormRec struct {
	topic   string
	txn     int // its transaction, -1 outside transactions
	answers int
	md      RecordMetadata
	err     error
}

// stormLedger holds every record of a storm by (sender, sequence); the
// record's value names both.
type stormLedger struct {
	mu         sync.Mutex
	recs       [][]stormRec // guarded by mu
	extra      int          // answers beyond the first, guarded by mu
	sent       atomic.Int64
	answered   atomic.Int64 // records with at least one answer
	lastAnswer atomic.Int64 // unix nanos of the latest first answer
	acked      atomic.Int64 // records whose first answer was a success
}

func newStormLedger(senders int) *stormLedger {
	return &stormLedger{recs: make([][]stormRec, senders)}
}

// add registers the next record of sender and returns its sequence number.
func (l *stormLedger) add(sender int, topic string, txn int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs[sender] = append(l.recs[sender], stormRec{topic: topic, txn: txn})
	l.sent.Add(1)
	return len(l.recs[sender]) - 1
}

func (l *stormLedger) callback(sender, seq int) Callback {
	return func(md RecordMetadata, err error) {
		l.mu.Lock()
		r := &l.recs[sender][seq]
		r.answers++
		if r.answers > 1 {
			l.extra++
			l.mu.Unlock()
			return
		}
		r.md, r.err = md, err
		l.mu.Unlock()
		now := time.Now().UnixNano()
		l.answered.Add(1)
		l.lastAnswer.Store(now)
		if err == nil {
			l.acked.Add(1)
		}
	}
}

func stormValue(dst []byte, sender, seq int) []byte {
	dst = fmt.Appendf(dst[:0], "s%d-%d|", sender, seq)
	for len(dst) < 64 {
		dst = append(dst, 'x')
	}
	return dst
}

func parseStormValue(v []byte) (sender, seq int, ok bool) {
	s, found := strings.CutPrefix(string(v), "s")
	if !found {
		return 0, 0, false
	}
	s, _, _ = strings.Cut(s, "|")
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	sender, err1 := strconv.Atoi(a)
	seq, err2 := strconv.Atoi(b)
	return sender, seq, err1 == nil && err2 == nil
}

// stormResult is a finished storm: its ledger, what the reader saw, the
// faults that hit, and the producer's metrics.
type stormResult struct {
	cfg     stormConfig
	l       *stormLedger
	read    []*kgo.Record
	readErr error
	txns    []txnOutcome // transactional storms: the outcome of each transaction
	stalled bool         // not every record was answered within the drain bound
	// answeredInTime is the number of records answered within the drain bound.
	answeredInTime int64
	start          time.Time
	sendEnd        time.Time
	drainTime      time.Duration // last answer − senders stopped
	metrics        Metrics
	stats          *stormStats
}

// ackRate is the records acknowledged with success per second, from the
// start of sending until every record was answered (or the drain gave up).
func (r *stormResult) ackRate() float64 {
	if d := (r.sendEnd.Sub(r.start) + r.drainTime).Seconds(); d > 0 {
		return float64(r.l.acked.Load()) / d
	}
	return 0
}

// runStorm runs one storm and reads the log back; check judges it.
func runStorm(t *testing.T, cfg stormConfig) *stormResult {
	ci := ""
	if strings.Contains(t.Name(), "Long") {
		ci = "CI=1 "
	}
	t.Logf("storm %q, seed %d (replay: %sKPROD_STORM_SEED=%d go test -race -run '%s' ./producer): "+
		"%d senders at %s for %v, a fault every %v",
		cfg.mix.name, cfg.seed, ci, cfg.seed, t.Name(), cfg.senders, rateString(cfg.rate), cfg.duration, cfg.every)
	clusterOpts := []kfake.Opt{kfake.SeedTopics(stormPartitions, stormTopics...)}
	if cfg.mix.sleep {
		clusterOpts = append(clusterOpts, kfake.SleepOutOfOrder())
	}
	c := newCluster(t, append(clusterOpts, cfg.clusterOpts...)...)
	inj := newStormInjector(c, cfg)
	opts := append([]Opt{WithLinger(2 * time.Millisecond), WithBatchSize(2048),
		WithRetryBackoff(5*time.Millisecond, 100*time.Millisecond), WithRequestTimeout(stormRequestTimeout),
		WithDialer(inj.dialer.dial), WithLogger(testLogger(t))}, cfg.opts...)
	var p *Producer
	if cfg.txn {
		p = newTxnProducer(t, c, stormTxnID, opts...)
	} else {
		p = newTestProducer(t, c, opts...)
	}

	res := &stormResult{cfg: cfg, l: newStormLedger(cfg.senders), stats: inj.stats}
	ctx := ctxTimeout(t, cfg.duration+cfg.drain+time.Minute) // transaction calls
	res.start = time.Now()
	stopAt := res.start.Add(cfg.duration)
	sendCtx, cancelSends := context.WithDeadline(ctx, stopAt.Add(stormStallAfter))
	defer cancelSends()
	var gate *txnGate
	if cfg.txn {
		gate = newTxnGate()
	}
	var wg sync.WaitGroup
	for i := range cfg.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stormSender(sendCtx, p, res.l, gate, cfg, i, stopAt)
		}()
	}
	inj.start()
	if cfg.txn {
		res.txns = runTxnController(t, ctx, p, gate, cfg, stopAt)
	}
	wg.Wait()
	res.sendEnd = time.Now()
	inj.stop()

	// Drain: every record answered within the bound, and no long pause.
	deadline := res.sendEnd.Add(cfg.drain)
	progress, progressAt := res.l.answered.Load(), time.Now()
	for {
		n, now := res.l.answered.Load(), time.Now()
		if n >= res.l.sent.Load() || now.After(deadline) || now.Sub(progressAt) > stormStallAfter {
			break
		}
		if n != progress {
			progress, progressAt = n, now
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.answeredInTime = res.l.answered.Load()
	res.stalled = res.answeredInTime < res.l.sent.Load()
	if res.stalled {
		dumpGoroutines(t, "stall")
		t.Logf("stall: %s", senderState(p))
	}
	res.drainTime = max(time.Unix(0, res.l.lastAnswer.Load()).Sub(res.sendEnd), 0)
	if res.stalled {
		res.drainTime = time.Since(res.sendEnd)
	}
	res.metrics = p.Metrics()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := p.Close(cctx); err != nil {
		t.Logf("close: %v", err)
	}
	cancel()
	time.Sleep(100 * time.Millisecond) // a second answer would come now
	inj.settle()

	var isolation []kgo.Opt
	if cfg.txn {
		isolation = append(isolation, readCommitted)
	}
	res.read, res.readErr = readLog(c.ListenAddrs(), stormTopics, 20*time.Second, isolation...)
	res.log(t)
	return res
}

// senderState describes, for a stall's post-mortem, what the sender
// goroutine is waiting for: the producer id state and, per partition with
// queued batches, its head and how many queued batches may be in the log.
// It reads the sender's own fields on its goroutine and gives up after 2 s
// if that goroutine does not answer.
func senderState(p *Producer) string {
	out := make(chan string, 1)
	go func() {
		var b strings.Builder
		err := p.s.call(func() {
			s := p.s
			fmt.Fprintf(&b, "sender: producer id %v, needEpoch %v, initializing %v, %d batches in flight, unresolved %v",
				s.ids.id, s.ids.needEpoch, s.ids.initializing, s.inflight, s.unresolved())
			now := time.Now()
			fresh, freshBatches := 0, 0
			for _, part := range s.acc.partitions() {
				var queue []*recBatch
				s.acc.eachQueued(part, func(rb *recBatch) bool { queue = append(queue, rb); return true })
				maybe := 0
				for _, rb := range queue {
					if rb.maybeApplied && rb.seq >= 0 {
						maybe++
					}
				}
				switch {
				case len(queue) == 0:
				case queue[0].seq < 0 && maybe == 0 && part.inflight() == 0:
					fresh++ // only batches never sent: nothing to say but their number
					freshBatches += len(queue)
				default:
					h := queue[0]
					retry := "now"
					if d := h.retryAt.Sub(now); d > 0 {
						retry = "in " + d.Round(time.Millisecond).String()
					}
					fmt.Fprintf(&b, "\n\t%s/%d: %d queued (%d may be in the log), %d in flight, confirmed %v; "+
						"head: seq %d, maybeApplied %v, attempts %d, finished %v, retry %s",
						part.topic, part.id, len(queue), maybe, part.inflight(), part.seq.confirmed,
						h.seq, h.maybeApplied, h.attempts, h.finished, retry)
				}
			}
			fmt.Fprintf(&b, "\n\t%d more partitions hold only batches never sent (%d batches)", fresh, freshBatches)
		})
		if err != nil {
			b.WriteString(err.Error())
		}
		out <- b.String()
	}()
	select {
	case s := <-out:
		return s
	case <-time.After(2 * time.Second):
		return "the sender goroutine did not answer within 2s"
	}
}

// dumpGoroutines writes every goroutine's stack to a file for a post-mortem
// of a stall, and logs where.
func dumpGoroutines(t *testing.T, why string) {
	buf := allStacks()
	f, err := os.CreateTemp("", "kprod-storm-"+why+"-*.txt")
	if err != nil {
		t.Logf("goroutine dump: %v", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(buf)
	t.Logf("%s: goroutines dumped to %s", why, f.Name())
}

func rateString(rate int) string {
	if rate == 0 {
		return "full speed (unpaced)"
	}
	return fmt.Sprintf("%d records/s each", rate)
}

// stormSender sends records until stopAt: rate records/s (catching up after
// a slow Send), or as fast as Send returns when rate is 0.
func stormSender(ctx context.Context, p *Producer, l *stormLedger, gate *txnGate, cfg stormConfig, i int, stopAt time.Time) {
	rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)+1))
	keys := make([][]byte, stormKeys)
	for k := range keys {
		keys[k] = []byte("key-" + strconv.Itoa(k))
	}
	var val []byte
	var n int // records sent, for the topic alternation
	send := func() bool {
		if gate != nil && !gate.enter() {
			return false
		}
		topic := stormTopics[n%len(stormTopics)]
		n++
		txn := -1
		if gate != nil {
			txn = gate.id
		}
		rec := &Record{Topic: topic}
		if rng.IntN(3) != 0 {
			rec.Key = keys[rng.IntN(stormKeys)]
		}
		seq := l.add(i, topic, txn)
		val = stormValue(val, i, seq)
		rec.Value = val
		p.Send(ctx, rec, l.callback(i, seq))
		if gate != nil {
			gate.leave()
		}
		return true
	}
	start := time.Now()
	if cfg.rate == 0 {
		for time.Now().Before(stopAt) && ctx.Err() == nil {
			if !send() {
				time.Sleep(100 * time.Microsecond)
			}
		}
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for ctx.Err() == nil {
		now := <-tick.C
		if !now.Before(stopAt) {
			return
		}
		target := int(now.Sub(start).Seconds() * float64(cfg.rate))
		for sent < target && time.Now().Before(stopAt) && send() {
			sent++
		}
	}
}

// ---- faults ----

// kindStat counts one kind of fault: armed or installed, and hit.
type kindStat struct {
	injected, hit atomic.Int64
}

// stormStats holds the counts of every kind a storm can inject; the map is
// filled before the storm starts and only read afterwards.
type stormStats struct {
	kinds       map[string]*kindStat
	produceReqs atomic.Int64 // produce requests the brokers saw
	dials       atomic.Int64 // connections the producer opened
}

func (s *stormStats) kind(name string) *kindStat {
	k := s.kinds[name]
	if k == nil {
		panic("storm: unknown fault kind " + name)
	}
	return k
}

// hits is the number of faults that hit, of the kinds for which pred holds.
func (s *stormStats) hits(pred func(string) bool) int64 {
	var n int64
	for name, k := range s.kinds {
		if pred(name) {
			n += k.hit.Load()
		}
	}
	return n
}

// stormAction is one thing the injector can do on a tick.
type stormAction struct {
	kind string
	do   func() bool // installs or arms a fault; false when it cannot now (one of its kind still pending)
}

// stormTP names a partition.
type stormTP struct {
	topic string
	part  int32
}

// stormBatch names a batch as the broker sees it.
type stormBatch struct {
	tp    stormTP
	pid   int64
	epoch int16
	seq   int32
}

// batchesOf lists the batches of a produce request.
func (inj *stormInjector) batchesOf(req kmsg.Request) []stormBatch {
	pr, ok := req.(*kmsg.ProduceRequest)
	if !ok {
		return nil
	}
	var out []stormBatch
	for _, t := range pr.Topics {
		name := t.Topic
		if name == "" {
			name = inj.topicOf[t.TopicID]
		}
		for _, p := range t.Partitions {
			// v2 batch header: producer id at 43, epoch at 51, base sequence at 53.
			if b := p.Records; len(b) >= 57 {
				out = append(out, stormBatch{stormTP{name, p.Partition}, int64(binary.BigEndian.Uint64(b[43:])),
					int16(binary.BigEndian.Uint16(b[51:])), int32(binary.BigEndian.Uint32(b[53:]))})
			}
		}
	}
	return out
}

// firstAttempt reports whether req carries tp's batch for the first time.
// A spurious sequence error lands only there: on a resend of a batch that
// may be in the log already, the real broker answers with the batch's
// offset (a duplicate), never with a sequence error, and no producer can
// tell a lie there from the truth.
func (inj *stormInjector) firstAttempt(req kmsg.Request, tp stormTP) bool {
	inj.seenMu.Lock()
	defer inj.seenMu.Unlock()
	for _, b := range inj.batchesOf(req) {
		if b.tp == tp {
			return inj.attempts[b] == 1
		}
	}
	return false
}

// pendingFault is an installed error fault not yet seen hit.
type pendingFault struct {
	h    *kfake.FaultHandle
	kind string
}

// stormInjector lands the storm's faults.
type stormInjector struct {
	c       *kfake.Cluster
	cfg     stormConfig
	rng     *rand.Rand // only the injector goroutine uses it
	stats   *stormStats
	dialer  *stormDialer
	actions []stormAction

	// Arms taken by the produce control, as countdowns (see arm).
	dropBefore atomic.Int32
	sleep      atomic.Int32
	sleepFor   atomic.Int64 // how long the armed sleep holds its request

	mu      sync.Mutex
	pending map[stormTP]*pendingFault // (topic, partition) → its unhit fault; guarded by mu
	coord   *pendingFault             // the unhit coordinator fault; guarded by mu

	topicOf  map[[16]byte]string // topic id → name (Produce v13 names topics by id only)
	seenMu   sync.Mutex
	attempts map[stormBatch]int // how often the brokers saw each batch; guarded by seenMu

	done chan struct{}
	wg   sync.WaitGroup
}

func newStormInjector(c *kfake.Cluster, cfg stormConfig) *stormInjector {
	inj := &stormInjector{c: c, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 0)),
		stats: &stormStats{kinds: map[string]*kindStat{}}, pending: map[stormTP]*pendingFault{}, done: make(chan struct{})}
	inj.dialer = &stormDialer{stats: inj.stats}
	inj.topicOf, inj.attempts = map[[16]byte]string{}, map[stormBatch]int{}
	for _, topic := range stormTopics {
		inj.topicOf[c.TopicInfo(topic).TopicID] = topic
	}
	for _, name := range []string{kindDropBefore, kindDropAfter, kindMove, kindShuffle, kindSleep, kindRehash, kindEndTxnLost} {
		inj.stats.kinds[name] = &kindStat{}
	}
	for _, code := range slices.Concat(afterAppendCodes, beforeAppendCodes, sequenceCodes, coordinatorCodes) {
		inj.stats.kinds[code.Message] = &kindStat{}
	}
	mix := cfg.mix
	for _, code := range mix.codes {
		inj.actions = append(inj.actions, stormAction{code.Message, func() bool { return inj.produceFault(code) }})
	}
	if mix.drops {
		inj.actions = append(inj.actions,
			stormAction{kindDropBefore, func() bool { return inj.arm(&inj.dropBefore, kindDropBefore, 10) }},
			stormAction{kindDropAfter, func() bool { return inj.arm(&inj.dialer.produce, kindDropAfter, 10) }})
	}
	if mix.moves {
		inj.actions = append(inj.actions, stormAction{kindMove, inj.move})
	}
	if mix.sleep {
		inj.actions = append(inj.actions, stormAction{kindSleep, func() bool {
			// Mostly 5–30ms. One in longHoldOneIn outlasts the request
			// timeout: the producer gives up on the connection and
			// resends on a new one while the broker still holds the old
			// request, which it handles after the resend and whatever
			// followed it.
			d := 5*time.Millisecond + time.Duration(inj.rng.Int64N(int64(25*time.Millisecond)))
			if n := mix.longHoldOneIn; n > 0 && inj.rng.IntN(n) == 0 {
				d = stormRequestTimeout + 100*time.Millisecond + time.Duration(inj.rng.Int64N(int64(400*time.Millisecond)))
			}
			if inj.sleep.Load() != 0 {
				return false
			}
			inj.sleepFor.Store(int64(d))
			return inj.arm(&inj.sleep, kindSleep, 10)
		}})
	}
	if mix.coord {
		for _, code := range coordinatorCodes {
			inj.actions = append(inj.actions, stormAction{code.Message, func() bool { return inj.coordFault(code) }})
		}
		inj.actions = append(inj.actions,
			stormAction{kindRehash, func() bool {
				c.RehashCoordinators()
				inj.stats.kind(kindRehash).injected.Add(1)
				inj.stats.kind(kindRehash).hit.Add(1)
				return true
			}},
			// EndTxn requests are few (one per transaction): lose one of the next 3.
			stormAction{kindEndTxnLost, func() bool { return inj.arm(&inj.dialer.endTxn, kindEndTxnLost, 3) }})
	}
	// Every produce request passes here: count it, and drop or delay it
	// when armed.
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		inj.stats.produceReqs.Add(1)
		inj.seenMu.Lock()
		for _, b := range inj.batchesOf(req) {
			inj.attempts[b]++
		}
		inj.seenMu.Unlock()
		if fire(&inj.dropBefore) {
			inj.stats.kind(kindDropBefore).hit.Add(1)
			return nil, errors.New("storm: connection dropped before the request was read"), true
		}
		if fire(&inj.sleep) {
			d := inj.sleepFor.Load()
			inj.stats.kind(kindSleep).hit.Add(1)
			c.SleepControl(func() { time.Sleep(time.Duration(d)) })
		}
		return nil, nil, false
	})
	return inj
}

// arm sets a one-shot fault unless the last one is still pending: it lands
// on the n-th request of its kind from now, n random in 1..upTo, so that
// when requests are few (a transaction waiting for its commit) the faults
// do not all land on the same resent batch.
func (inj *stormInjector) arm(flag *atomic.Int32, kind string, upTo int32) bool {
	if !flag.CompareAndSwap(0, 1+inj.rng.Int32N(upTo)) {
		return false
	}
	inj.stats.kind(kind).injected.Add(1)
	return true
}

// fire counts a request down on an armed flag and reports whether the
// fault lands on this one.
func fire(flag *atomic.Int32) bool {
	for {
		n := flag.Load()
		if n == 0 {
			return false
		}
		if flag.CompareAndSwap(n, n-1) {
			return n == 1
		}
	}
}

// produceFault installs code on the next produce request of a random
// partition that has no unhit fault (at most one per partition).
func (inj *stormInjector) produceFault(code *kerr.Error) bool {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	var free []stormTP
	for _, topic := range stormTopics {
		for part := range int32(stormPartitions) {
			if tp := (stormTP{topic, part}); inj.pending[tp] == nil {
				free = append(free, tp)
			}
		}
	}
	if len(free) == 0 {
		return false
	}
	key := free[inj.rng.IntN(len(free))]
	topic, part := key.topic, key.part
	f := kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{part}, Err: code, Count: 1}
	if slices.Contains(sequenceCodes, code) {
		f.When = func(req kmsg.Request) bool { return inj.firstAttempt(req, key) }
	}
	h := inj.c.Fault(f)
	inj.pending[key] = &pendingFault{h: h, kind: code.Message}
	inj.stats.kind(code.Message).injected.Add(1)
	return true
}

// coordFault installs code on the next transactional coordinator request
// (AddPartitionsToTxn, EndTxn, InitProducerId or FindCoordinator), as its
// top-level code or the transactional id's, unless one is still unhit.
func (inj *stormInjector) coordFault(code *kerr.Error) bool {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	if inj.coord != nil {
		return false
	}
	keys := []kmsg.Key{kmsg.AddPartitionsToTxn, kmsg.EndTxn, kmsg.InitProducerID}
	if code == kerr.CoordinatorLoadInProgress {
		keys = append(keys, kmsg.FindCoordinator)
	}
	h := inj.c.Fault(kfake.Fault{Keys: keys, TxnID: stormTxnID, Err: code, Count: 1, TopLevel: inj.rng.IntN(2) == 0})
	inj.coord = &pendingFault{h: h, kind: code.Message}
	inj.stats.kind(code.Message).injected.Add(1)
	return true
}

// move gives a random partition a new leader.
func (inj *stormInjector) move() bool {
	topic := stormTopics[inj.rng.IntN(len(stormTopics))]
	part := int32(inj.rng.IntN(stormPartitions))
	to := (inj.c.LeaderFor(topic, part) + 1 + int32(inj.rng.IntN(2))) % 3
	if err := inj.c.MoveTopicPartition(topic, part, to); err == nil {
		inj.stats.kind(kindMove).injected.Add(1)
		inj.stats.kind(kindMove).hit.Add(1)
	}
	return true
}

// collect counts the pending error faults that hit since the last call.
func (inj *stormInjector) collect() {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	for key, f := range inj.pending {
		if f.h.Hits() > 0 {
			inj.stats.kind(f.kind).hit.Add(1)
			delete(inj.pending, key)
		}
	}
	if inj.coord != nil && inj.coord.h.Hits() > 0 {
		inj.stats.kind(inj.coord.kind).hit.Add(1)
		inj.coord = nil
	}
}

func (inj *stormInjector) start() {
	if len(inj.actions) > 0 && inj.cfg.every > 0 {
		inj.wg.Add(1)
		go func() {
			defer inj.wg.Done()
			var order []int
			next := 0
			tick := time.NewTicker(inj.cfg.every)
			defer tick.Stop()
			for {
				select {
				case <-inj.done:
					return
				case <-tick.C:
				}
				inj.collect()
				// The kinds take turns in an order shuffled every round,
				// so each gets as many turns as the others; one that
				// cannot land now (one of its kind still pending, or
				// every partition has its fault) loses its turn.
				if next >= len(order) {
					order, next = inj.rng.Perm(len(inj.actions)), 0
				}
				inj.actions[order[next]].do()
				next++
			}
		}()
	}
	if inj.cfg.mix.moves {
		inj.wg.Add(1)
		rng := rand.New(rand.NewPCG(inj.cfg.seed, 100))
		go func() {
			defer inj.wg.Done()
			for {
				select {
				case <-inj.done:
					return
				case <-time.After(100*time.Millisecond + time.Duration(rng.Int64N(int64(100*time.Millisecond)))):
				}
				inj.c.ShufflePartitionLeaders()
				inj.stats.kind(kindShuffle).injected.Add(1)
				inj.stats.kind(kindShuffle).hit.Add(1)
			}
		}()
	}
}

// stop ends the injection; faults already installed or armed may still hit
// while the producer drains.
func (inj *stormInjector) stop() {
	close(inj.done)
	inj.wg.Wait()
}

// settle counts the last hits and removes the faults that never hit.
func (inj *stormInjector) settle() {
	inj.collect()
	inj.mu.Lock()
	defer inj.mu.Unlock()
	for _, f := range inj.pending {
		f.h.Remove()
	}
	if inj.coord != nil {
		inj.coord.h.Remove()
	}
	inj.dropBefore.Store(0)
	inj.sleep.Store(0)
	inj.dialer.produce.Store(0)
	inj.dialer.endTxn.Store(0)
}

// stormDialer opens the producer's connections; when armed for an api key,
// the response to the next request of that key is lost: the connection is
// closed as its first byte arrives, after the broker acted on the request.
type stormDialer struct {
	stats   *stormStats
	produce atomic.Int32 // armed (see arm): lose a produce response
	endTxn  atomic.Int32 // armed: lose an EndTxn response
}

func (d *stormDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.stats.dials.Add(1)
	return &stormConn{Conn: nc, d: d, lose: map[int32]string{}}, nil
}

// stormConn reads whole response frames so it can lose one by its
// correlation id.
type stormConn struct {
	net.Conn
	d    *stormDialer
	mu   sync.Mutex
	lose map[int32]string // correlation id → the fault kind; guarded by mu
	buf  []byte           // the unread rest of the current response frame (reader goroutine only)
	dead error
}

// Write sees whole request frames: size, api key, version, correlation id.
func (c *stormConn) Write(b []byte) (int, error) {
	if len(b) >= 12 {
		var kind string
		switch int16(binary.BigEndian.Uint16(b[4:6])) {
		case int16(kmsg.Produce):
			if fire(&c.d.produce) {
				kind = kindDropAfter
			}
		case int16(kmsg.EndTxn):
			if fire(&c.d.endTxn) {
				kind = kindEndTxnLost
			}
		}
		if kind != "" {
			c.mu.Lock()
			c.lose[int32(binary.BigEndian.Uint32(b[8:12]))] = kind
			c.mu.Unlock()
		}
	}
	return c.Conn.Write(b)
}

func (c *stormConn) Read(b []byte) (int, error) {
	if len(c.buf) == 0 {
		if c.dead != nil {
			return 0, c.dead
		}
		var hdr [8]byte
		if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
			return 0, err
		}
		size := int32(binary.BigEndian.Uint32(hdr[:4]))
		if size < 4 {
			return 0, fmt.Errorf("storm: response frame of %d bytes", size)
		}
		corr := int32(binary.BigEndian.Uint32(hdr[4:8]))
		c.mu.Lock()
		kind, lose := c.lose[corr]
		delete(c.lose, corr)
		c.mu.Unlock()
		if lose {
			c.d.stats.kind(kind).hit.Add(1)
			c.dead = io.ErrUnexpectedEOF
			_ = c.Conn.Close()
			return 0, c.dead
		}
		frame := make([]byte, 4+int(size))
		copy(frame, hdr[:])
		if _, err := io.ReadFull(c.Conn, frame[8:]); err != nil {
			return 0, err
		}
		c.buf = frame
	}
	n := copy(b, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// ---- report and checks ----

// log reports the storm's numbers.
func (r *stormResult) log(t *testing.T) {
	t.Helper()
	sendDur := r.sendEnd.Sub(r.start)
	m := r.metrics
	t.Logf("%d records sent in %v (%.0f/s), %.0f acknowledged/s, last answer %v after the senders stopped; "+
		"%d produce requests at the brokers, %d connections opened; producer: %d requests, %d record retries, "+
		"%d producer id resets, %d failed, p99 send→ack %v",
		r.l.sent.Load(), sendDur.Round(time.Millisecond), float64(r.l.sent.Load())/sendDur.Seconds(), r.ackRate(),
		r.drainTime.Round(time.Millisecond), r.stats.produceReqs.Load(), r.stats.dials.Load(),
		m.RequestsSent, m.RecordsRetried, m.ProducerIDResets, m.RecordsFailed, m.SendLatencyP99)
	names := make([]string, 0, len(r.stats.kinds))
	for name, k := range r.stats.kinds {
		if k.injected.Load() > 0 || k.hit.Load() > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		k := r.stats.kinds[name]
		fmt.Fprintf(&b, "\n\t%5d hit of %5d  %s", k.hit.Load(), k.injected.Load(), name)
	}
	if b.Len() > 0 {
		t.Logf("faults:%s", b.String())
	}
}

// check asserts that the storm's faults really landed, then every invariant.
func (r *stormResult) check(t *testing.T) {
	t.Helper()
	r.checkFaultsHit(t)
	if r.cfg.txn {
		r.checkTxns(t)
	}
	r.checkRecords(t)
}

// checkFaultsHit fails a storm that stressed too little to prove anything.
func (r *stormResult) checkFaultsHit(t *testing.T) {
	t.Helper()
	mix, secs := r.cfg.mix, r.cfg.duration.Seconds()
	if mix.empty() {
		return
	}
	if r.stalled {
		t.Logf("the producer stalled: fault counts not checked")
		return
	}
	isCode := func(name string) bool { return strings.ToUpper(name) == name }
	// Codes land on produce requests too: ten a second, or one per 20
	// requests when a starved machine made fewer.
	reqs := float64(r.stats.produceReqs.Load())
	if n := r.stats.hits(isCode); len(mix.codes) > 0 && float64(n) < max(1, min(10*secs, reqs/20)) {
		t.Errorf("only %d error codes hit requests in %v: the storm is too weak", n, r.cfg.duration)
	}
	var missing []string
	for _, code := range slices.Concat(mix.codes, coordinatorCodesIf(mix.coord)) {
		if r.stats.kind(code.Message).hit.Load() == 0 && !slices.Contains(missing, code.Message) {
			missing = append(missing, code.Message)
		}
	}
	if mix.drops {
		// A drop lands on one of the next few produce requests, so how many
		// land follows how many requests the run made: on a starved machine
		// fewer than one a second. At least one of each kind, and, when
		// drops are all the storm throws, one per 200 requests up to one a
		// second (in the mix they are two kinds of many: one each is the
		// bar there, or a seed that drew them rarely fails a sound run).
		want := 1.0
		if len(mix.codes) == 0 {
			want = max(1, min(secs, reqs/200))
		}
		for _, k := range []string{kindDropBefore, kindDropAfter} {
			if n := r.stats.kind(k).hit.Load(); float64(n) < want {
				missing = append(missing, fmt.Sprintf("%s (%d)", k, n))
			}
		}
	}
	if mix.moves {
		if n := r.stats.kind(kindMove).hit.Load() + r.stats.kind(kindShuffle).hit.Load(); float64(n) < 5*secs {
			missing = append(missing, fmt.Sprintf("leader moves (%d)", n))
		}
	}
	if mix.sleep && r.stats.kind(kindSleep).hit.Load() == 0 {
		missing = append(missing, kindSleep)
	}
	if mix.coord {
		for _, k := range []string{kindRehash, kindEndTxnLost} {
			if r.stats.kind(k).hit.Load() == 0 {
				missing = append(missing, k)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("faults that did not land (often enough): %s", strings.Join(missing, "; "))
	}
}

func coordinatorCodesIf(on bool) []*kerr.Error {
	if on {
		return coordinatorCodes
	}
	return nil
}

// problems collects the broken invariants of a storm, with a few examples
// each.
type problems struct {
	order []string
	n     map[string]int
	ex    map[string][]string
}

func (p *problems) add(what, example string) {
	if p.n == nil {
		p.n, p.ex = map[string]int{}, map[string][]string{}
	}
	if p.n[what] == 0 {
		p.order = append(p.order, what)
	}
	p.n[what]++
	if len(p.ex[what]) < 3 {
		p.ex[what] = append(p.ex[what], example)
	}
}

type stormPos struct {
	partition int32
	offset    int64
}

func (p stormPos) String() string { return fmt.Sprintf("%d@%d", p.partition, p.offset) }

// checkRecords checks every record against its answers and the log: for
// transactional storms, against the read_committed log and the outcome of
// its transaction.
func (r *stormResult) checkRecords(t *testing.T) {
	t.Helper()
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	var pr problems
	if r.stalled {
		pr.add("stalled", fmt.Sprintf("only %d of %d records answered %v after the senders stopped, none in the last %v "+
			"or the drain bound %v passed (the rest failed at Close)",
			r.answeredInTime, l.sent.Load(), r.drainTime.Round(time.Millisecond), stormStallAfter, r.cfg.drain))
	}
	if r.readErr != nil {
		pr.add("log not read to its end", r.readErr.Error())
	}
	// Where the reader found each record, per sender and sequence.
	found := make([][][]stormPos, len(l.recs))
	for s := range found {
		found[s] = make([][]stormPos, len(l.recs[s]))
	}
	read := slices.Clone(r.read)
	sort.SliceStable(read, func(i, j int) bool {
		a, b := read[i], read[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	type chain struct {
		topic     string
		sender    int
		partition int32
	}
	last := map[chain]struct {
		seq int
		off int64
	}{}
	for _, rec := range read {
		s, seq, ok := parseStormValue(rec.Value)
		if !ok || s >= len(l.recs) || seq >= len(l.recs[s]) {
			pr.add("in the log but never sent", fmt.Sprintf("%q at %s/%d@%d", rec.Value, rec.Topic, rec.Partition, rec.Offset))
			continue
		}
		name := fmt.Sprintf("s%d-%d", s, seq)
		want := l.recs[s][seq]
		if rec.Topic != want.topic {
			pr.add("in the wrong topic", fmt.Sprintf("%s sent to %s is in %s", name, want.topic, rec.Topic))
			continue
		}
		found[s][seq] = append(found[s][seq], stormPos{rec.Partition, rec.Offset})
		k := chain{rec.Topic, s, rec.Partition}
		if prev, ok := last[k]; ok && seq < prev.seq {
			pr.add("out of send order", fmt.Sprintf("%s/%d: %s at offset %d after s%d-%d at offset %d",
				rec.Topic, rec.Partition, name, rec.Offset, s, prev.seq, prev.off))
		}
		if prev, ok := last[k]; !ok || seq > prev.seq {
			last[k] = struct {
				seq int
				off int64
			}{seq, rec.Offset}
		}
	}
	outcome := func(txn int) txnOutcome {
		if txn < 0 {
			return txnCommitted // outside transactions every record must be written
		}
		if txn < len(r.txns) {
			return r.txns[txn]
		}
		return txnOpen
	}
	for s := range l.recs {
		for seq, rec := range l.recs[s] {
			name := fmt.Sprintf("s%d-%d (%s)", s, seq, rec.topic)
			pos := found[s][seq]
			switch {
			case rec.answers == 0:
				pr.add("never answered", name)
			case rec.answers > 1:
				pr.add("answered more than once", fmt.Sprintf("%s: %d times", name, rec.answers))
			}
			switch outcome(rec.txn) {
			case txnAborted:
				if len(pos) > 0 {
					pr.add("visible though its transaction aborted", fmt.Sprintf("%s of transaction %d at %v", name, rec.txn, pos))
				}
				continue
			case txnOpen:
				continue // its transaction neither committed nor aborted: the controller reported why
			}
			if rec.answers > 0 && rec.err != nil {
				what := "failed"
				if rec.txn >= 0 {
					what = "failed in a committed transaction"
				}
				pr.add(what, fmt.Sprintf("%s: %v", name, rec.err))
			}
			switch {
			case len(pos) > 1:
				ack := "not acknowledged"
				if rec.answers > 0 && rec.err == nil {
					ack = "acknowledged at " + stormPos{rec.md.Partition, rec.md.Offset}.String()
				}
				pr.add("in the log more than once", fmt.Sprintf("%s at %v, %s", name, pos, ack))
			case len(pos) == 0 && rec.answers > 0 && rec.err == nil:
				pr.add("acknowledged but not in the log", fmt.Sprintf("%s acknowledged at %d@%d", name, rec.md.Partition, rec.md.Offset))
			case len(pos) == 0 && rec.txn >= 0:
				pr.add("committed but not in the log", name)
			}
			if rec.answers == 0 || rec.err != nil || len(pos) == 0 {
				continue
			}
			at := stormPos{rec.md.Partition, rec.md.Offset}
			switch {
			case rec.md.Offset < 0:
				pr.add("acknowledged without an offset", fmt.Sprintf("%s (is at %v)", name, pos))
			case rec.md.Topic != rec.topic || !slices.Contains(pos, at):
				pr.add("acknowledged at a false offset", fmt.Sprintf("%s acknowledged at %v, is at %v", name, at, pos))
			}
		}
	}
	if l.extra > 0 {
		pr.add("extra answers", fmt.Sprintf("%d answers beyond the first", l.extra))
	}
	if len(pr.order) == 0 {
		committed := ""
		if r.txns != nil {
			committed = " (committed ones)"
		}
		t.Logf("checked %d records%s against %d read back: each answered once, written once, in send order, at its acknowledged offset",
			l.sent.Load(), committed, len(r.read))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "storm %q seed %d broke the producer's promise (%d records sent, %d read back):",
		r.cfg.mix.name, r.cfg.seed, l.sent.Load(), len(r.read))
	for _, what := range pr.order {
		fmt.Fprintf(&b, "\n\t%d %s, e.g. %s", pr.n[what], what, strings.Join(pr.ex[what], "; "))
	}
	t.Error(b.String())
}
