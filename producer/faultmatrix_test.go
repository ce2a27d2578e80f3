package producer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// faultOutcome is what the producer does with a record whose produce
// request the broker answered with an error code.
type faultOutcome int

const (
	// retried: the batch goes out again (after a metadata refresh where the
	// code says the leader may have moved) and is written once.
	retried faultOutcome = iota
	// resetThenWritten: the idempotent producer takes a new epoch, restarts
	// the partition's sequences and resends; the batch is written once.
	resetThenWritten
	// recordFails: the batch's records fail with the broker's code; the
	// producer carries on with the records after them.
	recordFails
	// producerFails: the records fail with the code and ErrFatal, and every
	// later Send fails with ErrFatal.
	producerFails
	// splitOrFail: a batch of several records is split and resent; a single
	// record fails with ErrRecordTooLarge and the code.
	splitOrFail
	// ackedWithoutOffset: the broker says it already has the batch; the
	// records succeed with offset -1.
	ackedWithoutOffset
)

func (o faultOutcome) String() string {
	return [...]string{"retried, written once", "new epoch, resent, written once", "records fail, producer carries on",
		"records fail, producer fails (ErrFatal)", "batch split and resent; a lone record fails", "acknowledged, offset unknown"}[o]
}

// faultRow is one broker error code: how the Java producer treats it and
// what kprod must do.
type faultRow struct {
	err           *kerr.Error
	javaRetriable bool   // the Java exception is a RetriableException
	java          string // what the Java producer does with it on a produce response
	want          faultOutcome
}

// faultMatrix lists the codes a produce response can carry (and a few it
// should not, to pin down what happens anyway).
var faultMatrix = []faultRow{
	{kerr.NotLeaderForPartition, true, "retry after a metadata refresh", retried},
	{kerr.LeaderNotAvailable, true, "retry after a metadata refresh", retried},
	{kerr.RequestTimedOut, true, "retry (idempotence dedupes a batch that was appended)", retried},
	{kerr.NotEnoughReplicas, true, "retry", retried},
	{kerr.NotEnoughReplicasAfterAppend, true, "retry (idempotence dedupes the appended batch)", retried},
	{kerr.UnknownTopicOrPartition, true, "retry after a metadata refresh", retried},
	{kerr.KafkaStorageError, true, "retry after a metadata refresh", retried},
	{kerr.NetworkException, true, "retry after a metadata refresh", retried},
	{kerr.CorruptMessage, true, "retry (CorruptRecordException is retriable)", retried},
	{kerr.FencedLeaderEpoch, true, "retry after a metadata refresh", retried},
	{kerr.UnknownLeaderEpoch, true, "retry after a metadata refresh", retried},
	{kerr.ReplicaNotAvailable, true, "retry after a metadata refresh", retried},
	{kerr.UnknownTopicID, true, "retry after a metadata refresh", retried},
	{kerr.ThrottlingQuotaExceeded, true, "retry", retried},
	{kerr.CoordinatorLoadInProgress, true, "retry (never sent on produce)", retried},
	{kerr.ConcurrentTransactions, true, "retry (transactions v2: the partition's add raced another at the coordinator)", retried},
	{kerr.BrokerNotAvailable, false, "fail the batch (ApiException; never sent on produce)", retried},
	{kerr.UnknownProducerID, false, "bump the epoch locally, reset sequences, retry", resetThenWritten},
	{kerr.OutOfOrderSequenceNumber, false, "fail the batch and bump the epoch (when it was the next expected batch)", resetThenWritten},
	{kerr.DuplicateSequenceNumber, false, "treat as success", ackedWithoutOffset},
	{kerr.MessageTooLarge, false, "split the batch if it holds several records, else fail", splitOrFail},
	{kerr.RecordListTooLarge, false, "fail the batch", splitOrFail},
	{kerr.InvalidRecord, false, "fail the batch", recordFails},
	{kerr.TopicAuthorizationFailed, false, "fail the batch", recordFails},
	{kerr.InvalidRequiredAcks, false, "fail the batch", recordFails},
	{kerr.UnsupportedForMessageFormat, false, "fail the batch", recordFails},
	{kerr.InvalidTimestamp, false, "fail the batch", recordFails},
	{kerr.InvalidTopicException, false, "fail the batch", recordFails},
	{kerr.UnsupportedCompressionType, false, "fail the batch", recordFails},
	{kerr.PolicyViolation, false, "fail the batch", recordFails},
	{kerr.UnknownServerError, false, "fail the batch", recordFails},
	{kerr.InvalidTxnState, false, "fail the batch (transactional: abortable)", recordFails},
	{kerr.UnsupportedVersion, false, "fatal", recordFails},
	{kerr.ClusterAuthorizationFailed, false, "fatal", producerFails},
	{kerr.TransactionalIDAuthorizationFailed, false, "fatal", producerFails},
	{kerr.ProducerFenced, false, "fatal", producerFails},
	{kerr.InvalidProducerIDMapping, false, "fatal", producerFails},
	{kerr.InvalidProducerEpoch, false, "fail the batch (transactional: abortable)", producerFails},
}

// TestFaultMatrixRetriableFlag checks that the producer's own notion of
// "retriable" (IsRetriable, what it tells callers may succeed when sent
// again) agrees with Java's exception classes, apart from the one code
// kerr classes differently.
func TestFaultMatrixRetriableFlag(t *testing.T) {
	for _, row := range faultMatrix {
		got := IsRetriable(fmt.Errorf("wrapped: %w", row.err))
		if row.err == kerr.BrokerNotAvailable {
			if !got {
				t.Errorf("%s: kerr no longer marks it retriable; move its row to recordFails", row.err.Message)
			}
			continue
		}
		if got != row.javaRetriable {
			t.Errorf("%s: IsRetriable %v, Java says %v", row.err.Message, got, row.javaRetriable)
		}
	}
}

// TestFaultMatrix injects each code into produce responses and checks what
// the producer does against the matrix: once for a lone synchronous record
// and once (the long phase) for a stream of records around the fault, with
// the ledger's invariants (each record answered once, nothing lost, nothing
// duplicated, order per partition) checked against the log.
func TestFaultMatrix(t *testing.T) {
	for _, row := range faultMatrix {
		t.Run(row.err.Message, func(t *testing.T) {
			runFaultRow(t, row)
		})
	}
}

func runFaultRow(t *testing.T, row faultRow) {
	const topic = "fm"
	c := newCluster(t, kfake.SeedTopics(3, topic))
	p := newTestProducer(t, c, WithLinger(0), WithRetryBackoff(5*time.Millisecond, 20*time.Millisecond),
		WithRequestTimeout(5*time.Second), WithDeliveryTimeout(30*time.Second))
	ctx := ctxTimeout(t, 60*time.Second)
	l := newLedger(t)
	written := 0 // records the log must hold
	send := func(id int) (RecordMetadata, error) {
		rec := l.record(topic, id)
		rec.Partition, rec.PinPartition = int32(id%3), true
		return p.Send(ctx, rec, l.callback(id)).Get(ctx)
	}
	if _, err := send(0); err != nil {
		t.Fatalf("warm-up record: %v", err)
	}
	written++
	retriedBefore := p.Metrics().RecordsRetried
	resetsBefore := p.Metrics().ProducerIDResets

	count := 1
	if row.want == retried || row.want == resetThenWritten {
		count = 2
	}
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: row.err, Count: count})
	md, err := send(1)
	if hits := h.Hits(); hits != count {
		t.Fatalf("the fault hit %d requests, want %d", hits, count)
	}
	m := p.Metrics()
	switch row.want {
	case retried:
		if err != nil {
			t.Fatalf("record failed: %v; want it retried", err)
		}
		if m.RecordsRetried-retriedBefore < int64(count) {
			t.Fatalf("%d record retries counted, want %d", m.RecordsRetried-retriedBefore, count)
		}
		written++
	case resetThenWritten:
		if err != nil {
			t.Fatalf("record failed: %v; want it resent under a new epoch", err)
		}
		if m.ProducerIDResets == resetsBefore {
			t.Fatal("no new epoch was taken")
		}
		written++
	case ackedWithoutOffset:
		if err != nil || md.Offset != -1 {
			t.Fatalf("got offset %d, error %v; want success with offset -1", md.Offset, err)
		}
		// The broker never stored it: it said it had it already. Keep the
		// record out of the log check.
		l.mu.Lock()
		l.errs[1] = errors.New("acknowledged as a duplicate: not in the log")
		l.mu.Unlock()
	case recordFails, splitOrFail:
		if !errors.Is(err, row.err) || errors.Is(err, ErrFatal) {
			t.Fatalf("got %v; want the record to fail with %s, not ErrFatal", err, row.err.Message)
		}
		if row.want == splitOrFail && !errors.Is(err, ErrRecordTooLarge) {
			t.Fatalf("got %v; want ErrRecordTooLarge too", err)
		}
		if retries := m.RecordsRetried - retriedBefore; retries != 0 {
			t.Fatalf("%d records retried for a non-retriable code", retries)
		}
	case producerFails:
		if !errors.Is(err, row.err) || !errors.Is(err, ErrFatal) {
			t.Fatalf("got %v; want %s and ErrFatal", err, row.err.Message)
		}
		_, err := send(2)
		if !errors.Is(err, ErrFatal) {
			t.Fatalf("a record after the fatal error: %v, want ErrFatal", err)
		}
		if hits := h.Hits(); hits != count {
			t.Fatal("a record after the fatal error reached the broker")
		}
		l.checkLog(consume(t, c, topic, written))
		return
	}

	if testing.Short() {
		l.checkLog(consume(t, c, topic, written))
		return
	}
	// A stream of records across the partitions, with up to 5 requests in
	// flight per broker: the fault answers the requests that go out from
	// a third of the way in, the rest come before and after them.
	const n = 300
	capt := &faultCapture{}
	for id := 2; id < 2+n; id++ {
		if id == 2+n/3 {
			h = c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: row.err, Count: count, When: capt.when})
		}
		rec := l.record(topic, id)
		rec.Partition, rec.PinPartition = int32(id%3), true
		p.Send(ctx, rec, l.callback(id))
	}
	l.wait(30 * time.Second)
	if hits := h.Hits(); hits != count {
		t.Fatalf("the fault hit %d requests in the stream, want %d", hits, count)
	}
	faulted := capt.ids()
	if len(faulted) == 0 {
		t.Fatal("the faulted requests carried no records of the stream")
	}
	l.mu.Lock()
	failed := map[int]error{}
	for id, err := range l.errs {
		if id >= 2 {
			failed[id] = err
		}
	}
	l.mu.Unlock()
	switch row.want {
	case retried, resetThenWritten:
		if len(failed) != 0 {
			t.Fatalf("%d records of the stream failed, e.g. %v", len(failed), firstErr(l))
		}
	case recordFails, splitOrFail:
		for id, err := range failed {
			in, ok := faulted[id]
			switch {
			case !ok:
				t.Fatalf("record %d failed (%v) but was not in a faulted request", id, err)
			case !errors.Is(err, row.err):
				t.Fatalf("record %d failed with %v, want %s", id, err, row.err.Message)
			case row.want == splitOrFail && in.batchLen > 1:
				t.Fatalf("record %d failed (%v) though its batch of %d records could be split", id, err, in.batchLen)
			}
		}
		for id, in := range faulted {
			_, gone := failed[id]
			if row.want == recordFails && !gone {
				t.Fatalf("record %d was in a faulted request but did not fail", id)
			}
			if row.want == splitOrFail && !gone && in.batchLen == 1 {
				t.Fatalf("record %d was alone in a too-large batch but did not fail", id)
			}
		}
	case ackedWithoutOffset:
		if len(failed) != 0 {
			t.Fatalf("%d records of the stream failed, e.g. %v", len(failed), firstErr(l))
		}
		l.mu.Lock()
		for id := range faulted {
			if l.meta[id].Offset != -1 {
				l.mu.Unlock()
				t.Fatalf("record %d acknowledged as a duplicate at offset %d, want -1", id, l.meta[id].Offset)
			}
			// Never stored: keep it out of the log check.
			l.errs[id] = errors.New("acknowledged as a duplicate: not in the log")
		}
		l.mu.Unlock()
		failed = map[int]error{}
		for id := range faulted {
			failed[id] = nil
		}
	}
	written += n - len(failed)
	if _, err := send(2 + n); err != nil {
		t.Fatalf("a record after the stream: %v", err)
	}
	written++
	l.checkLog(consume(t, c, topic, written))
	t.Logf("%s: %d faulted requests carried %d records of the stream; %d of them not written (%v)",
		row.err.Message, count, len(faulted), len(failed), row.want)
}

// faultCapture remembers the records of the produce requests a fault
// answered, by the ids in their values.
type faultCapture struct {
	mu   sync.Mutex
	seen map[*kmsg.ProduceRequest]bool
	recs map[int]faultedRecord
}

// faultedRecord is where a record of a faulted request was.
type faultedRecord struct {
	partition int32
	batchLen  int // records in its batch
}

// when is the Fault's When: it runs on the cluster's goroutine for a request
// the fault's selectors matched, and always lets the fault answer it.
func (fc *faultCapture) when(req kmsg.Request) bool {
	pr, ok := req.(*kmsg.ProduceRequest)
	if !ok {
		return true
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.seen == nil {
		fc.seen, fc.recs = map[*kmsg.ProduceRequest]bool{}, map[int]faultedRecord{}
	}
	if fc.seen[pr] {
		return true
	}
	fc.seen[pr] = true
	for _, t := range pr.Topics { // one topic per test cluster: Produce v13 names it by id only
		for _, part := range t.Partitions {
			vals := batchValues(part.Records)
			for _, v := range vals {
				if id, err := parseValueID(v); err == nil {
					fc.recs[id] = faultedRecord{partition: part.Partition, batchLen: len(vals)}
				}
			}
		}
	}
	return true
}

func (fc *faultCapture) ids() map[int]faultedRecord {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return maps.Clone(fc.recs)
}

// batchValues decodes the values of an uncompressed record batch with kmsg
// (an encoder other than ours), nil if it does not decode.
func batchValues(raw []byte) [][]byte {
	var rb kmsg.RecordBatch
	if rb.ReadFrom(raw) != nil || rb.Attributes&0x07 != 0 {
		return nil
	}
	var out [][]byte
	src := rb.Records
	for range rb.NumRecords {
		length, n := binary.Varint(src)
		if n <= 0 || int64(len(src)-n) < length {
			return nil
		}
		var r kmsg.Record
		if r.ReadFrom(src[:n+int(length)]) != nil {
			return nil
		}
		out = append(out, r.Value)
		src = src[n+int(length):]
	}
	return out
}

// parseValueID reads the id out of a ledger record's value.
func parseValueID(v []byte) (int, error) {
	s, ok := strings.CutPrefix(string(v), "v-")
	if !ok {
		return 0, fmt.Errorf("value %q has no id", v)
	}
	s, _, _ = strings.Cut(s, "|")
	return strconv.Atoi(s)
}
