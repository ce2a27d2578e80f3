package txn

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeCluster is a scripted coordinator for tests that must not touch the
// network (synctest bubbles). Requests are answered by the script of
// their key, one step per request, then by the default answers.
type fakeCluster struct {
	mu       sync.Mutex
	scripts  map[int16][]fakeStep
	calls    map[int16]int
	versions map[int16]int16 // max version per key; missing keys use kmsg's
	txnLevel int16           // transaction.version feature; 0 = not finalized
	coord    int32           // node FindCoordinator names
	sent     []kmsg.Request  // every request, unwrapped, in order
}

// fakeStep answers one request; ctx is the attempt's context.
type fakeStep func(ctx context.Context, req kmsg.Request) (kmsg.Response, error)

func newFakeCluster(v2 bool) *fakeCluster {
	f := &fakeCluster{
		scripts:  make(map[int16][]fakeStep),
		calls:    make(map[int16]int),
		versions: map[int16]int16{kmsg.EndTxn.Int16(): 5, kmsg.TxnOffsetCommit.Int16(): 5},
		coord:    1,
	}
	if v2 {
		f.txnLevel = 2
	} else {
		f.versions[kmsg.EndTxn.Int16()] = 3
		f.versions[kmsg.TxnOffsetCommit.Int16()] = 3
	}
	return f
}

// then appends steps to the script of key.
func (f *fakeCluster) then(key kmsg.Key, steps ...fakeStep) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[key.Int16()] = append(f.scripts[key.Int16()], steps...)
}

func (f *fakeCluster) count(key kmsg.Key) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key.Int16()]
}

func (f *fakeCluster) anyBroker(context.Context) (peer, error) { return fakePeer{f: f, node: 0}, nil }

func (f *fakeCluster) broker(_ context.Context, node int32, _ string) (peer, error) {
	return fakePeer{f: f, node: node}, nil
}

type fakePeer struct {
	f    *fakeCluster
	node int32
}

func (p fakePeer) MaxVersion(key int16) (int16, bool) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	if v, ok := p.f.versions[key]; ok {
		return v, v >= 0
	}
	if r := kmsg.RequestForKey(key); r != nil {
		return r.MaxVersion(), true
	}
	return -1, false
}

func (p fakePeer) Feature(name string) (int16, bool) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	if name == "transaction.version" && p.f.txnLevel > 0 {
		return p.f.txnLevel, true
	}
	return 0, false
}

func (p fakePeer) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Negotiate as a connection would: min(peer max, request max).
	max, _ := p.MaxVersion(req.Key())
	if c, ok := req.(capped); ok {
		max = min(max, c.MaxVersion())
		req = c.Request
	}
	req.SetVersion(min(max, req.MaxVersion()))

	p.f.mu.Lock()
	key := req.Key()
	p.f.calls[key]++
	p.f.sent = append(p.f.sent, req)
	var step fakeStep
	if s := p.f.scripts[key]; len(s) > 0 {
		step, p.f.scripts[key] = s[0], s[1:]
	}
	coordNode := p.f.coord
	p.f.mu.Unlock()
	if step != nil {
		resp, err := step(ctx, req)
		if resp != nil {
			resp.SetVersion(req.GetVersion())
		}
		return resp, err
	}
	return p.f.answer(req, coordNode), nil
}

// answer is the default: success for everything.
func (f *fakeCluster) answer(req kmsg.Request, coordNode int32) kmsg.Response {
	resp := req.ResponseKind()
	switch r := req.(type) {
	case *kmsg.FindCoordinatorRequest:
		fr := resp.(*kmsg.FindCoordinatorResponse)
		fr.NodeID, fr.Host, fr.Port = coordNode, "fake", 9092
		if r.Version >= 4 {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key, c.NodeID, c.Host, c.Port = r.CoordinatorKeys[0], coordNode, "fake", 9092
			fr.Coordinators = append(fr.Coordinators, c)
		}
	case *kmsg.InitProducerIDRequest:
		ir := resp.(*kmsg.InitProducerIDResponse)
		ir.ProducerID, ir.ProducerEpoch = 7, 0
		if r.ProducerID >= 0 {
			ir.ProducerID, ir.ProducerEpoch = r.ProducerID, r.ProducerEpoch+1
		}
	case *kmsg.AddPartitionsToTxnRequest:
		ar := resp.(*kmsg.AddPartitionsToTxnResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition = p
				st.Partitions = append(st.Partitions, sp)
			}
			ar.Topics = append(ar.Topics, st)
		}
	case *kmsg.TxnOffsetCommitRequest:
		tr := resp.(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition = p.Partition
				st.Partitions = append(st.Partitions, sp)
			}
			tr.Topics = append(tr.Topics, st)
		}
	case *kmsg.EndTxnRequest:
		if r.Version >= 5 {
			er := resp.(*kmsg.EndTxnResponse)
			er.ProducerID, er.ProducerEpoch = r.ProducerID, r.ProducerEpoch+1
		}
	}
	return resp
}

// errCode answers with a top-level error code (InitProducerId, EndTxn,
// AddOffsetsToTxn, FindCoordinator up to v3) or, for requests with
// partitions, the code on every partition.
func errCode(code int16) fakeStep {
	return func(_ context.Context, req kmsg.Request) (kmsg.Response, error) {
		resp := (&fakeCluster{}).answer(req, 1)
		switch r := resp.(type) {
		case *kmsg.InitProducerIDResponse:
			r.ErrorCode = code
		case *kmsg.EndTxnResponse:
			r.ErrorCode = code
		case *kmsg.AddOffsetsToTxnResponse:
			r.ErrorCode = code
		case *kmsg.FindCoordinatorResponse:
			r.ErrorCode = code
			for i := range r.Coordinators {
				r.Coordinators[i].ErrorCode = code
			}
		case *kmsg.DescribeTransactionsResponse:
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.ErrorCode = code
			st.TransactionalID = req.(*kmsg.DescribeTransactionsRequest).TransactionalIDs[0]
			r.TransactionStates = append(r.TransactionStates, st)
		case *kmsg.AddPartitionsToTxnResponse:
			for i := range r.Topics {
				for j := range r.Topics[i].Partitions {
					r.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		case *kmsg.TxnOffsetCommitResponse:
			for i := range r.Topics {
				for j := range r.Topics[i].Partitions {
					r.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
		return resp, nil
	}
}

// fail answers with a transport error.
func fail(err error) fakeStep {
	return func(context.Context, kmsg.Request) (kmsg.Response, error) { return nil, err }
}

// hang blocks until the attempt's context ends, like a broker that never
// answers.
func hang(ctx context.Context, _ kmsg.Request) (kmsg.Response, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// describeState answers DescribeTransactions with a state.
func describeState(state string, pid int64, epoch int16) fakeStep {
	return func(_ context.Context, req kmsg.Request) (kmsg.Response, error) {
		resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = req.(*kmsg.DescribeTransactionsRequest).TransactionalIDs[0]
		st.State, st.ProducerID, st.ProducerEpoch = state, pid, epoch
		resp.TransactionStates = append(resp.TransactionStates, st)
		return resp, nil
	}
}
