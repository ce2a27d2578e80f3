package producertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/txn"
	"github.com/kprod/kprod/partitioner"
	"github.com/kprod/kprod/producer"
)

// MockProducer is a producer.TxnClient that talks to no cluster: it records
// every record sent and answers each one exactly once, either at once (the
// default: acknowledged with the next offset of its partition) or when the
// test says so (ManualCompletion: CompleteNext, ErrorNext, CompleteAll).
// It is safe for concurrent use.
//
// What the mock does as the real producer does: it copies the key, value and
// headers during Send (callers may reuse their buffers); it refuses what the
// producer refuses, with the same sentinel errors (a nil record, a bad topic
// name, a header with an empty key, a partition out of range and a record
// over max.request.size fail with producer.ErrInvalidRecord or
// producer.ErrRecordTooLarge; any call after Close with producer.ErrClosed);
// it follows the same transaction state machine (package txn), so calls out
// of order fail with producer.ErrInvalidState and a failed record makes the
// open transaction abortable; Flush waits for the answers of the records
// sent before it; Close aborts an open transaction.
//
// Where it differs: every topic exists, with 1 partition unless
// WithPartitions or WithDefaultPartitions say otherwise. A record goes to its
// pinned partition, else to the custom partitioner's choice
// (WithPartitioner), else to the murmur2 hash of its key as the producer
// does, else round robin over the topic's partitions starting at 0 (the
// producer's sticky partitioner depends on batch sizes and timing, which a
// mock has not). Offsets count from 0 per partition, one per acknowledged
// record; transaction markers take none. Send and TrySend never wait.
// Callbacks run on the goroutine that answers the record: the caller of Send
// in automatic mode, the caller of CompleteNext (or ErrorNext, Close,
// AbortTransaction, ...) otherwise. Close does not wait for records still
// pending: they fail with producer.ErrClosed.
type MockProducer struct {
	cfg mockConfig   // read-only after NewMockProducer
	txm *txn.Machine // nil without a transactional id; changed under mu only

	mu          sync.Mutex
	closed      bool                     // guarded by mu
	fatal       error                    // set by Fence; guarded by mu
	history     []*entry                 // every record sent, in order; guarded by mu
	pending     []*entry                 // records not answered yet, oldest first; guarded by mu
	unfinished  map[*entry]struct{}      // records whose callback has not returned; guarded by mu
	pendingGrew chan struct{}            // closed and replaced when pending grows; guarded by mu
	next        map[topicPartition]int64 // next offset per partition; guarded by mu
	rr          map[string]int32         // round-robin position per topic; guarded by mu
	failN       int                      // sends still to fail with failErr; guarded by mu
	failErr     error                    // guarded by mu
	txnRecords  []*entry                 // records of the open transaction; guarded by mu
	txnOffsets  []*SentOffsets           // offsets of the open transaction; guarded by mu
	offsets     []*SentOffsets           // every SendOffsetsToTransaction, in order; guarded by mu
	commits     int                      // guarded by mu
	aborts      int                      // guarded by mu
}

type topicPartition struct {
	topic     string
	partition int32
}

// entry is one record sent to the mock.
type entry struct {
	rec      producer.Record         // the caller's record, copied
	md       producer.RecordMetadata // topic, partition and timestamp, fixed at Send
	cb       producer.Callback
	complete func(producer.RecordMetadata, error) bool
	done     chan struct{} // closed once the record is answered and its callback returned

	// guarded by MockProducer.mu
	answered bool
	offset   int64
	err      error
	txn      TxnStatus
}

// TxnStatus says whether a record or offsets were part of a transaction and
// how it ended.
type TxnStatus int8

// The transaction outcomes a SentRecord or SentOffsets can have.
const (
	TxnNone      TxnStatus = iota // sent outside any transaction
	TxnOpen                       // part of the transaction still open
	TxnCommitted                  // part of a committed transaction
	TxnAborted                    // part of an aborted transaction: a read_committed consumer never sees it
)

func (s TxnStatus) String() string {
	switch s {
	case TxnNone:
		return "none"
	case TxnOpen:
		return "open"
	case TxnCommitted:
		return "committed"
	case TxnAborted:
		return "aborted"
	}
	return fmt.Sprintf("TxnStatus(%d)", int8(s))
}

// SentRecord is one record as the mock received it, and its answer so far.
type SentRecord struct {
	// Record is a copy of the record as passed to Send (the mock runs no
	// interceptors); Record.Partition is what the caller set.
	Record producer.Record
	// Partition is the partition the mock chose, -1 if the record was
	// refused before one was chosen.
	Partition int32
	// Timestamp is the record's create time: Record.Timestamp, or the time
	// of Send, in milliseconds as Kafka keeps it.
	Timestamp time.Time
	// Answered reports whether the record was acknowledged or failed.
	Answered bool
	// Offset is the acknowledged offset; -1 while pending and on error.
	Offset int64
	// Err is the error the record failed with (nil while pending and on success).
	Err error
	// Txn says whether the record was part of a transaction and how it ended.
	Txn TxnStatus
}

// SentOffsets is one SendOffsetsToTransaction call.
type SentOffsets struct {
	Offsets map[string]map[int32]producer.OffsetAndMetadata
	Group   producer.GroupMetadata
	Txn     TxnStatus
}

var _ producer.TxnClient = (*MockProducer)(nil)

// mockConfig holds the MockProducer's options.
type mockConfig struct {
	manual         bool
	partitions     map[string]int
	defaultParts   int
	partitioner    partitioner.Partitioner
	txnID          string
	maxRequestSize int
}

// MockOpt configures a MockProducer.
type MockOpt func(*mockConfig)

// ManualCompletion makes records wait for the test to answer them with
// CompleteNext, ErrorNext or CompleteAll, oldest first. Without it every
// record is answered during Send.
func ManualCompletion() MockOpt { return func(c *mockConfig) { c.manual = true } }

// WithPartitions gives topic n partitions (n ≥ 1).
func WithPartitions(topic string, n int) MockOpt {
	return func(c *mockConfig) { c.partitions[topic] = max(n, 1) }
}

// WithDefaultPartitions gives every topic not named by WithPartitions n
// partitions (n ≥ 1; default 1).
func WithDefaultPartitions(n int) MockOpt {
	return func(c *mockConfig) { c.defaultParts = max(n, 1) }
}

// WithPartitioner makes p choose the partition of records that are not
// pinned, as producer.WithPartitioner does.
func WithPartitioner(p partitioner.Partitioner) MockOpt {
	return func(c *mockConfig) { c.partitioner = p }
}

// WithTransactionalID makes the mock transactional, as
// producer.WithTransactionalID does: InitTransactions comes first, and
// records may only be sent inside a transaction.
func WithTransactionalID(id string) MockOpt { return func(c *mockConfig) { c.txnID = id } }

// WithMaxRequestSize sets the size above which a record fails with
// producer.ErrRecordTooLarge (default 1 MiB, as producer.WithMaxRequestSize).
func WithMaxRequestSize(n int) MockOpt { return func(c *mockConfig) { c.maxRequestSize = n } }

// NewMockProducer returns a mock producer; see MockProducer.
func NewMockProducer(opts ...MockOpt) *MockProducer {
	cfg := mockConfig{partitions: map[string]int{}, defaultParts: 1, maxRequestSize: 1 << 20}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	m := &MockProducer{
		cfg:         cfg,
		unfinished:  map[*entry]struct{}{},
		pendingGrew: make(chan struct{}),
		next:        map[topicPartition]int64{},
		rr:          map[string]int32{},
	}
	if cfg.txnID != "" {
		m.txm = txn.NewMachine()
	}
	return m
}

// ---- the producer.TxnClient methods ----

// Send records rec and answers it: at once, or, with ManualCompletion, when
// the test completes it. The returned Future and cb (if not nil) receive the
// same answer, exactly once.
func (m *MockProducer) Send(_ context.Context, rec *producer.Record, cb producer.Callback) producer.Future {
	return m.send(rec, cb)
}

// TrySend is Send: the mock has no buffer to run out of (use FailNext with
// producer.ErrBufferFull to test that path).
func (m *MockProducer) TrySend(_ context.Context, rec *producer.Record, cb producer.Callback) producer.Future {
	return m.send(rec, cb)
}

// SendSync sends rec and waits for its answer or for ctx to end.
func (m *MockProducer) SendSync(ctx context.Context, rec *producer.Record) (producer.RecordMetadata, error) {
	return m.send(rec, nil).Get(ctx)
}

// Flush waits until every record sent before the call is answered and its
// callback returned, or ctx ends. With ManualCompletion that is when the
// test answers them. As with the producer, a Flush called from a callback
// waits for that callback too: only ctx ends it.
func (m *MockProducer) Flush(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return producer.ErrClosed
	}
	waits := m.unfinishedLocked()
	m.mu.Unlock()
	return waitAll(ctx, waits)
}

// Close stops accepting records. An open transaction is aborted; records
// still pending fail with producer.ErrClosed. Close then waits, until ctx
// ends, for callbacks still running on other goroutines. Calling it again
// changes nothing.
func (m *MockProducer) Close(ctx context.Context) error {
	m.mu.Lock()
	var answers []answer
	if !m.closed {
		m.closed = true
		if m.txm != nil {
			switch m.txm.State() {
			case txn.InTransaction, txn.AbortableError, txn.Aborting:
				if m.txm.State() != txn.Aborting {
					_ = m.txm.Transition(txn.Aborting)
				}
				answers = m.abortLocked()
				_ = m.txm.Transition(txn.Ready)
			}
		}
		closed := fmt.Errorf("%w: closed before the record was answered", producer.ErrClosed)
		for _, e := range m.pending {
			answers = append(answers, m.settleLocked(e, closed))
		}
		m.pending = nil
	}
	m.mu.Unlock()
	m.deliver(answers)
	m.mu.Lock()
	waits := m.unfinishedLocked()
	m.mu.Unlock()
	return waitAll(ctx, waits)
}

// InitTransactions readies a transactional mock for its first transaction.
func (m *MockProducer) InitTransactions(context.Context) error {
	if m.txm == nil {
		return notTransactional()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return producer.ErrClosed
	}
	if m.txm.State() != txn.Initializing {
		if err := m.txm.Transition(txn.Initializing); err != nil {
			return err
		}
	}
	return m.txm.Transition(txn.Ready)
}

// BeginTransaction opens a transaction.
func (m *MockProducer) BeginTransaction() error {
	if m.txm == nil {
		return notTransactional()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return producer.ErrClosed
	}
	return m.txm.Transition(txn.InTransaction)
}

// SendOffsetsToTransaction records offsets and group as part of the open
// transaction (see Offsets).
func (m *MockProducer) SendOffsetsToTransaction(_ context.Context, offsets map[string]map[int32]producer.OffsetAndMetadata, group producer.GroupMetadata) error {
	if m.txm == nil {
		return notTransactional()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.txm.State(); st != txn.InTransaction {
		return m.stateErrorLocked(st, "SendOffsetsToTransaction")
	}
	so := &SentOffsets{Offsets: copyOffsets(offsets), Group: group, Txn: TxnOpen}
	m.offsets = append(m.offsets, so)
	m.txnOffsets = append(m.txnOffsets, so)
	return nil
}

// CommitTransaction waits until every record of the transaction is answered
// (with ManualCompletion, by the test) and commits. If one failed, the
// transaction cannot commit: the error wraps producer.ErrAbortable and
// AbortTransaction is next. When ctx ends first the error wraps
// producer.ErrTxnTimeout and calling CommitTransaction again is safe.
func (m *MockProducer) CommitTransaction(ctx context.Context) error {
	if m.txm == nil {
		return notTransactional()
	}
	m.mu.Lock()
	waits, err := m.enterLocked(txn.Committing)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if err := waitAll(ctx, waits); err != nil {
		return fmt.Errorf("%w: waiting for the transaction's records: %w", producer.ErrTxnTimeout, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.txm.State() != txn.Committing {
		return m.txm.Err() // a record failed: the transaction must be aborted
	}
	m.endTxnLocked(TxnCommitted)
	m.commits++
	return m.txm.Transition(txn.Ready)
}

// AbortTransaction fails the transaction's records still pending with
// producer.ErrAborted, marks all its records and offsets aborted, and
// readies the mock for the next transaction.
func (m *MockProducer) AbortTransaction(ctx context.Context) error {
	if m.txm == nil {
		return notTransactional()
	}
	m.mu.Lock()
	waits, err := m.enterLocked(txn.Aborting)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	answers := m.abortLocked()
	m.mu.Unlock()
	m.deliver(answers)
	if err := waitAll(ctx, waits); err != nil {
		return fmt.Errorf("%w: waiting for the transaction's callbacks: %w", producer.ErrTxnTimeout, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.txm.State() != txn.Aborting {
		return m.txm.Err()
	}
	return m.txm.Transition(txn.Ready)
}

// ---- controls for the test ----

// CompleteNext acknowledges the oldest pending record with the next offset
// of its partition and runs its callback. It reports false when nothing is
// pending.
func (m *MockProducer) CompleteNext() bool { return m.answerNext(nil) }

// ErrorNext fails the oldest pending record with err and runs its callback.
// It reports false when nothing is pending. In a transaction, the failure
// makes the transaction abortable, as with the producer.
func (m *MockProducer) ErrorNext(err error) bool {
	if err == nil {
		err = errors.New("producertest: ErrorNext(nil)")
	}
	return m.answerNext(err)
}

// CompleteAll acknowledges every pending record, oldest first, and returns
// how many there were.
func (m *MockProducer) CompleteAll() int {
	n := 0
	for m.answerNext(nil) {
		n++
	}
	return n
}

// FailNext makes the next n records sent fail with err (during Send, in
// either mode) as if the broker had refused them: to test how a service
// handles producer.ErrDeliveryTimeout, producer.ErrBufferFull, a kerr code,
// ... Calling it again replaces what is left of an earlier call.
func (m *MockProducer) FailNext(n int, err error) {
	if err == nil {
		err = errors.New("producertest: FailNext(nil)")
	}
	m.mu.Lock()
	m.failN, m.failErr = n, err
	m.mu.Unlock()
}

// Fence makes the mock fail as a producer fenced by another instance with
// the same transactional id: pending records and every later call fail with
// an error matching producer.ErrFenced and producer.ErrFatal.
func (m *MockProducer) Fence() {
	err := fmt.Errorf("%w: %w: fenced by the test (MockProducer.Fence)", producer.ErrFatal, producer.ErrFenced)
	m.mu.Lock()
	if m.fatal == nil {
		m.fatal = err
	}
	if m.txm != nil {
		m.txm.Fail(err, true)
	}
	var answers []answer
	for _, e := range m.pending {
		answers = append(answers, m.settleLocked(e, err))
	}
	m.pending = nil
	m.mu.Unlock()
	m.deliver(answers)
}

// Pending is the number of records waiting for CompleteNext or ErrorNext.
func (m *MockProducer) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

// WaitPending waits until at least n records are pending or ctx ends: a
// test whose code under test blocks in SendSync (another goroutine) waits
// for the record before answering it.
func (m *MockProducer) WaitPending(ctx context.Context, n int) error {
	for {
		m.mu.Lock()
		have, grew := len(m.pending), m.pendingGrew
		m.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return fmt.Errorf("producertest: %d of %d records pending: %w", have, n, ctx.Err())
		}
	}
}

// History returns every record sent so far (refused ones included, with
// their Err), in send order, with its answer so far.
func (m *MockProducer) History() []SentRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SentRecord, len(m.history))
	for i, e := range m.history {
		off := int64(-1)
		if e.answered && e.err == nil {
			off = e.offset
		}
		out[i] = SentRecord{Record: copyRecord(&e.rec), Partition: e.md.Partition, Timestamp: e.md.Timestamp,
			Answered: e.answered, Offset: off, Err: e.err, Txn: e.txn}
	}
	return out
}

// Offsets returns every SendOffsetsToTransaction call so far, in order.
func (m *MockProducer) Offsets() []SentOffsets {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SentOffsets, len(m.offsets))
	for i, so := range m.offsets {
		out[i] = SentOffsets{Offsets: copyOffsets(so.Offsets), Group: so.Group, Txn: so.Txn}
	}
	return out
}

// Commits is the number of transactions committed.
func (m *MockProducer) Commits() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commits
}

// Aborts is the number of transactions aborted.
func (m *MockProducer) Aborts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.aborts
}

// Closed reports whether Close was called.
func (m *MockProducer) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Clear forgets the history of records and offsets (records still pending
// stay pending, and offsets keep counting).
func (m *MockProducer) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.history, m.offsets = nil, nil
}

// ---- internals ----

// answer is a record's outcome, to deliver once mu is released.
type answer struct {
	e   *entry
	md  producer.RecordMetadata
	err error
}

func (m *MockProducer) send(rec *producer.Record, cb producer.Callback) producer.Future {
	if rec == nil {
		fut, complete := producer.NewFuture()
		md := producer.RecordMetadata{Partition: -1, Offset: -1}
		err := invalid("nil record")
		complete(md, err)
		if cb != nil {
			cb(md, err)
		}
		return fut
	}
	e := &entry{rec: copyRecord(rec), cb: cb, done: make(chan struct{})}
	ts := rec.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	e.md = producer.RecordMetadata{Topic: rec.Topic, Partition: -1, Offset: -1, Timestamp: time.UnixMilli(ts.UnixMilli())}
	if rec.PinPartition {
		e.md.Partition = rec.Partition
	}
	var fut producer.Future
	fut, e.complete = producer.NewFuture()

	// Checks that need no state, and the partition choices that call user
	// code (a custom partitioner), run before taking the lock.
	n := m.numPartitions(rec.Topic)
	part, chosen, err := m.checkAndPartition(rec, n)

	m.mu.Lock()
	m.history = append(m.history, e)
	m.unfinished[e] = struct{}{}
	if refusal := m.refusalLocked(); refusal != nil {
		err = refusal
	}
	if err == nil && !chosen {
		part = m.rr[rec.Topic] % int32(n)
		m.rr[rec.Topic]++
	}
	if m.txm != nil && m.txm.State() == txn.InTransaction {
		e.txn = TxnOpen
		m.txnRecords = append(m.txnRecords, e)
		if err != nil {
			// A record of the transaction is missing: it must not commit.
			m.txm.Fail(fmt.Errorf("%w: a record was refused: %w", producer.ErrAbortable, err), false)
		}
	}
	var answers []answer
	switch {
	case err != nil:
		answers = append(answers, m.settleLocked(e, err))
	case m.failN > 0:
		e.md.Partition = part
		m.failN--
		answers = append(answers, m.settleLocked(e, m.failErr))
	case !m.cfg.manual:
		e.md.Partition = part
		answers = append(answers, m.settleLocked(e, nil))
	default:
		e.md.Partition = part
		m.pending = append(m.pending, e)
		close(m.pendingGrew)
		m.pendingGrew = make(chan struct{})
	}
	m.mu.Unlock()
	m.deliver(answers)
	return fut
}

// refusalLocked is why no record can be accepted now, if anything.
func (m *MockProducer) refusalLocked() error {
	switch {
	case m.closed:
		return producer.ErrClosed
	case m.fatal != nil:
		return m.fatal
	case m.txm != nil:
		if st := m.txm.State(); st != txn.InTransaction {
			return m.stateErrorLocked(st, "Send")
		}
	}
	return nil
}

// checkAndPartition applies the producer's checks of a record that need no
// state, and picks its partition unless round robin has to (chosen false).
func (m *MockProducer) checkAndPartition(rec *producer.Record, n int) (part int32, chosen bool, err error) {
	for i := range rec.Headers {
		if rec.Headers[i].Key == "" {
			return 0, false, invalid("header %d has an empty key", i)
		}
	}
	if err := checkTopicName(rec.Topic); err != nil {
		return 0, false, err
	}
	switch {
	case rec.PinPartition:
		part = rec.Partition
	case m.cfg.partitioner != nil:
		part = m.cfg.partitioner.Partition(rec.Topic, rec.Key, rec.Value, n)
	case rec.Key != nil:
		part = partitioner.KeyPartition(rec.Key, n)
	default:
		return 0, false, m.checkSize(rec)
	}
	if part < 0 || int(part) >= n {
		return 0, false, invalid("partition %d out of range: topic %q has %d partitions", part, rec.Topic, n)
	}
	return part, true, m.checkSize(rec)
}

func (m *MockProducer) checkSize(rec *producer.Record) error {
	if size := batch.EstimateSize(rec.Key, rec.Value, rec.Headers); size > m.cfg.maxRequestSize {
		return fmt.Errorf("%w: %d bytes serialized, max.request.size is %d", producer.ErrRecordTooLarge, size, m.cfg.maxRequestSize)
	}
	return nil
}

func (m *MockProducer) numPartitions(topic string) int {
	if n, ok := m.cfg.partitions[topic]; ok {
		return n
	}
	return m.cfg.defaultParts
}

// answerNext answers the oldest pending record: acknowledged when err is nil.
func (m *MockProducer) answerNext(err error) bool {
	m.mu.Lock()
	if len(m.pending) == 0 {
		m.mu.Unlock()
		return false
	}
	e := m.pending[0]
	m.pending[0] = nil
	m.pending = m.pending[1:]
	a := m.settleLocked(e, err)
	m.mu.Unlock()
	m.deliver([]answer{a})
	return true
}

// settleLocked fixes e's answer: the next offset of its partition, or err.
// A failed record of the open transaction makes the transaction abortable.
func (m *MockProducer) settleLocked(e *entry, err error) answer {
	e.answered, e.err = true, err
	md := e.md
	if err == nil {
		tp := topicPartition{e.md.Topic, e.md.Partition}
		e.offset = m.next[tp]
		m.next[tp]++
		md.Offset = e.offset
	} else if e.txn == TxnOpen && m.txm != nil {
		switch m.txm.State() {
		case txn.InTransaction, txn.Committing:
			m.txm.Fail(fmt.Errorf("%w: a record failed: %w", producer.ErrAbortable, err), false)
		}
	}
	return answer{e: e, md: md, err: err}
}

// abortLocked fails the open transaction's pending records with
// producer.ErrAborted and marks its records and offsets aborted; the
// machine is in Aborting.
func (m *MockProducer) abortLocked() []answer {
	var answers []answer
	aborted := fmt.Errorf("%w", producer.ErrAborted)
	keep := m.pending[:0]
	for _, e := range m.pending {
		if e.txn == TxnOpen {
			answers = append(answers, m.settleLocked(e, aborted))
		} else {
			keep = append(keep, e)
		}
	}
	clear(m.pending[len(keep):])
	m.pending = keep
	m.endTxnLocked(TxnAborted)
	m.aborts++
	return answers
}

// endTxnLocked gives the open transaction's records and offsets their outcome.
func (m *MockProducer) endTxnLocked(outcome TxnStatus) {
	for _, e := range m.txnRecords {
		e.txn = outcome
	}
	for _, so := range m.txnOffsets {
		so.Txn = outcome
	}
	m.txnRecords, m.txnOffsets = nil, nil
}

// unfinishedLocked returns the done channels of records whose callback has
// not returned yet.
func (m *MockProducer) unfinishedLocked() []chan struct{} {
	out := make([]chan struct{}, 0, len(m.unfinished))
	for e := range m.unfinished {
		out = append(out, e.done)
	}
	return out
}

// stateErrorLocked explains why call is refused in state st.
func (m *MockProducer) stateErrorLocked(st txn.State, call string) error {
	if st == txn.AbortableError || st == txn.FatalError {
		return m.txm.Err()
	}
	return fmt.Errorf("%w: %s in state %v", producer.ErrInvalidState, call, st)
}

// deliver resolves each answer's Future, then runs its callback. The record
// counts as finished (for Flush and Close) once the callback returned, or
// panicked.
func (m *MockProducer) deliver(answers []answer) {
	for _, a := range answers {
		m.deliverOne(a)
	}
}

func (m *MockProducer) deliverOne(a answer) {
	defer func() {
		m.mu.Lock()
		delete(m.unfinished, a.e)
		m.mu.Unlock()
		close(a.e.done)
	}()
	a.e.complete(a.md, a.err)
	if a.e.cb != nil {
		a.e.cb(a.md, a.err)
	}
}

// enterLocked moves the transaction to st, or keeps it there when an earlier
// call that timed out left it in st, and returns what the transaction's
// records will close when answered. Called with m.mu held.
func (m *MockProducer) enterLocked(st txn.State) ([]chan struct{}, error) {
	if m.txm.State() != st {
		if err := m.txm.Transition(st); err != nil {
			return nil, err
		}
	}
	return doneChans(m.txnRecords), nil
}

func doneChans(es []*entry) []chan struct{} {
	out := make([]chan struct{}, len(es))
	for i, e := range es {
		out[i] = e.done
	}
	return out
}

// waitAll waits for every channel to close, or for ctx to end.
func waitAll(ctx context.Context, chans []chan struct{}) error {
	for _, c := range chans {
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func notTransactional() error {
	return fmt.Errorf("%w: the producer has no transactional.id", producer.ErrInvalidState)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", producer.ErrInvalidRecord, fmt.Sprintf(format, args...))
}

// checkTopicName applies Kafka's rules for topic names.
func checkTopicName(topic string) error {
	if topic == "" {
		return invalid("empty topic")
	}
	if len(topic) > 249 || topic == "." || topic == ".." {
		return invalid("invalid topic name %q", topic)
	}
	for _, c := range []byte(topic) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalid("invalid topic name %q: only letters, digits, '.', '_' and '-' are allowed", topic)
		}
	}
	return nil
}

// copyRecord copies rec with its key, value and headers; nil stays nil and
// empty stays empty.
func copyRecord(rec *producer.Record) producer.Record {
	c := *rec
	c.Key, c.Value = bytes.Clone(rec.Key), bytes.Clone(rec.Value)
	if rec.Headers != nil {
		c.Headers = make([]producer.Header, len(rec.Headers))
		for i, h := range rec.Headers {
			c.Headers[i] = producer.Header{Key: h.Key, Value: bytes.Clone(h.Value)}
		}
	}
	return c
}

func copyOffsets(in map[string]map[int32]producer.OffsetAndMetadata) map[string]map[int32]producer.OffsetAndMetadata {
	if in == nil {
		return nil
	}
	out := make(map[string]map[int32]producer.OffsetAndMetadata, len(in))
	for t, parts := range in {
		out[t] = maps.Clone(parts)
	}
	return out
}
