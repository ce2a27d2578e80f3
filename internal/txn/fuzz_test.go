package txn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/idempotence"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzMachine drives a machine with arbitrary calls and checks it against
// the independently written table: a transition succeeds exactly when the
// table allows it, FatalError is never left, and Err is set exactly in
// the error states.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 2})                 // a commit
	f.Add([]byte{1, 2, 3, 0x81, 5, 2, 3})        // abortable failure, abort, next
	f.Add([]byte{1, 2, 3, 0x87, 5, 2})           // failure while committing... then abort
	f.Add([]byte{0xc3, 1, 2, 7, 6})              // fatal first
	f.Add([]byte{9, 200, 255, 1, 1, 2, 2, 3, 3}) // out-of-range states, repeats
	f.Fuzz(func(t *testing.T, ops []byte) {
		m := NewMachine()
		for _, op := range ops {
			from := m.State()
			to := State(int(op&0x0f) - 1) // -1 .. 14: includes invalid states
			switch op >> 6 {
			case 0, 1: // Transition
				err := m.Transition(to)
				want := wantAllowed[[2]State{from, to}]
				if (err == nil) != want {
					t.Fatalf("Transition %s → %s = %v, table says allowed=%v", from, to, err, want)
				}
				if err != nil && !errors.Is(err, ErrInvalidState) {
					t.Fatalf("refusal %v does not match ErrInvalidState", err)
				}
			case 2:
				m.Fail(errors.New("abortable"), false)
			case 3:
				m.Fail(errors.New("fatal"), true)
			}
			now := m.State()
			if !now.valid() {
				t.Fatalf("invalid state %d", now)
			}
			if from == FatalError && now != FatalError {
				t.Fatalf("left FatalError for %s", now)
			}
			inError := now == AbortableError || now == FatalError
			if (m.Err() != nil) != inError {
				t.Fatalf("state %s with Err %v", now, m.Err())
			}
		}
	})
}

// fuzzTopics are the topic names fuzzed responses may name: the two
// asked for, one not asked for, and an empty one.
var fuzzTopics = [4]string{"a", "b", "z", ""}

// fuzzCodes reads data as per-partition answers, four bytes each: a topic
// (of fuzzTopics), a partition, and an error code.
func fuzzCodes(data []byte) map[string]map[int32]int16 {
	codes := make(map[string]map[int32]int16)
	for ; len(data) >= 4; data = data[4:] {
		topic := fuzzTopics[data[0]%4]
		if codes[topic] == nil {
			codes[topic] = make(map[int32]int16)
		}
		codes[topic][int32(int8(data[1]))] = int16(data[2])<<8 | int16(data[3])
	}
	return codes
}

// FuzzAddPartitionsOutcome checks the verdict on arbitrary
// AddPartitionsToTxn answers to a fixed request: no panic, pending only
// shrinks, success only when nothing is pending, an error otherwise.
func FuzzAddPartitionsOutcome(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 0, 0})      // all added
	f.Add([]byte{0, 0, 0, 29, 0, 1, 0, 55, 1, 2, 0, 55})   // topic authorization, not attempted
	f.Add([]byte{0, 0, 0, 51})                             // concurrent transactions, b[2] missing
	f.Add([]byte{1, 2, 0, 90, 2, 9, 0, 0, 3, 0xff, 0, 16}) // fenced, extra topics
	f.Add([]byte{0, 0, 0xff, 0xff, 0, 1, 0, 3})            // unknown server error, unknown topic
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := addPartitionsResponse(3, fuzzCodes(data))
		var pending PartitionSet
		pending.AddAll(map[string][]int32{"a": {0, 1}, "b": {2}})
		v, err := addPartitionsOutcome(&pending, resp)
		checkOutcome(t, v, err, pending.Len(), 3)
	})
}

// FuzzTxnOffsetCommitOutcome is FuzzAddPartitionsOutcome for
// TxnOffsetCommit answers.
func FuzzTxnOffsetCommitOutcome(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 0, 0})       // all stored
	f.Add([]byte{0, 0, 0, 25, 0, 1, 0, 22, 1, 2, 0, 0})     // unknown member, illegal generation
	f.Add([]byte{0, 0, 0, 16, 1, 2, 0, 14})                 // not coordinator, loading
	f.Add([]byte{1, 2, 0, 82, 0, 0, 0, 7, 0, 1, 0, 47})     // fenced instance, timed out, fenced epoch
	f.Add([]byte{2, 5, 0, 0, 0, 0, 0x7f, 0xff, 0, 1, 0, 0}) // unknown code
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := txnOffsetCommitResponse(3, fuzzCodes(data))
		pending := map[string]map[int32]Offset{"a": {0: {Offset: 1}, 1: {Offset: 2}}, "b": {2: {Offset: 3}}}
		v, err := txnOffsetCommitOutcome(pending, resp)
		left := 0
		for _, ps := range pending {
			left += len(ps)
		}
		checkOutcome(t, v, err, left, 3)
	})
}

func checkOutcome(t *testing.T, v verdict, err error, left, asked int) {
	t.Helper()
	if v < vOK || v > vFenced {
		t.Fatalf("verdict %d out of range", v)
	}
	if left > asked {
		t.Fatalf("pending grew to %d", left)
	}
	if (v == vOK) != (err == nil) {
		t.Fatalf("verdict %s with error %v", v, err)
	}
	if v == vOK && left != 0 {
		t.Fatalf("success with %d partitions pending", left)
	}
}

// FuzzEndTxnAnswers gives EndTxn arbitrary answers from the scripted
// coordinator: an EndTxn response (after an optional lost one) and, should
// EndTxn ask, a DescribeTransactions state. Whatever the broker says,
// EndTxn must not panic and must return either a usable id or an error
// matching one of the package's sentinels.
func FuzzEndTxnAnswers(f *testing.F) {
	f.Add(true, false, int16(0), int64(7), int16(1), int16(0), stateCompleteCommit, int64(7), int16(1))
	f.Add(false, true, int16(48), int64(-1), int16(-1), int16(0), stateCompleteCommit, int64(7), int16(0))
	f.Add(false, true, int16(48), int64(-1), int16(-1), int16(0), stateCompleteAbort, int64(7), int16(0))
	f.Add(true, false, int16(48), int64(-1), int16(-1), int16(0), "Empty", int64(7), int16(4))
	f.Add(false, false, int16(48), int64(-1), int16(-1), int16(53), "", int64(-1), int16(-1))
	f.Add(true, true, int16(0), int64(7), int16(-5), int16(0), "", int64(0), int16(0))
	f.Fuzz(func(t *testing.T, v2, lost bool, endCode int16, pid int64, epoch int16, descCode int16, state string, descPID int64, descEpoch int16) {
		fc := newFakeCluster(v2)
		if lost {
			fc.then(kmsg.EndTxn, fail(errors.New("connection reset")))
		}
		fc.then(kmsg.EndTxn, func(_ context.Context, req kmsg.Request) (kmsg.Response, error) {
			resp := req.ResponseKind().(*kmsg.EndTxnResponse)
			resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = endCode, pid, epoch
			return resp, nil
		})
		fc.then(kmsg.DescribeTransactions, func(_ context.Context, req kmsg.Request) (kmsg.Response, error) {
			resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID, st.ErrorCode, st.State, st.ProducerID, st.ProducerEpoch = "t", descCode, state, descPID, descEpoch
			resp.TransactionStates = append(resp.TransactionStates, st)
			return resp, nil
		})
		c := newClient(fc, Config{TransactionalID: "t", RetryBackoff: time.Microsecond})
		if _, err := c.InitProducerID(context.Background(), idempotence.None); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		next, err := c.EndTxn(ctx, idempotence.ID{ProducerID: 7, Epoch: 0}, true)
		if err == nil {
			if !next.Valid() || next.Epoch < 0 {
				t.Fatalf("success with id %v", next)
			}
			return
		}
		for _, s := range []error{ErrFenced, ErrAbortable, ErrFatal} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error %v matches no sentinel", err)
	})
}

func addPartitionsResponse(version int16, codes map[string]map[int32]int16) *kmsg.AddPartitionsToTxnResponse {
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	resp.Version = version
	for topic, ps := range codes {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = topic
		for p, code := range ps {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func txnOffsetCommitResponse(version int16, codes map[string]map[int32]int16) *kmsg.TxnOffsetCommitResponse {
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	resp.Version = version
	for topic, ps := range codes {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = topic
		for p, code := range ps {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
