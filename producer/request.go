package producer

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/wire"
)

// inflightReq is one produce request on the wire. They are reused, request
// struct and slices included, so a steady stream of requests allocates
// nothing here.
type inflightReq struct {
	s       *sender
	node    int32
	batches []*recBatch
	sentAt  time.Time
	req     kmsg.ProduceRequest
	into    produceResponse            // the response is decoded here, reused with the request
	onDone  func(kmsg.Response, error) // ir.answer, bound once

	resp kmsg.Response // the answer, set by the connection's reader goroutine
	err  error
}

// newInflight takes a request from the free list.
func (s *sender) newInflight(node int32) *inflightReq {
	var ir *inflightReq
	if n := len(s.spareReq); n > 0 {
		ir = s.spareReq[n-1]
		s.spareReq = s.spareReq[:n-1]
	} else {
		ir = &inflightReq{s: s}
		ir.onDone = ir.answer
		ir.into.req = &ir.req
	}
	ir.node = node
	return ir
}

// recycleInflight returns a handled request to the free list, dropping its
// references to batches and responses.
func (s *sender) recycleInflight(ir *inflightReq) {
	clear(ir.batches)
	ir.batches = ir.batches[:0]
	for i := range ir.req.Topics {
		rt := &ir.req.Topics[i]
		clear(rt.Partitions)
		rt.Partitions = rt.Partitions[:0]
	}
	ir.req.Topics = ir.req.Topics[:0]
	// ir.into keeps its slices: its ReadFrom overwrites every field.
	ir.resp, ir.err = nil, nil
	if len(s.spareReq) < 64 {
		s.spareReq = append(s.spareReq, ir)
	}
}

// answer runs on the connection's reader goroutine: it hands the response
// to the sender goroutine.
func (ir *inflightReq) answer(resp kmsg.Response, err error) {
	ir.resp, ir.err = resp, err
	ir.s.mb.postAnswer(ir)
}

// send writes one produce request; its answer is handled on the sender.
func (s *sender) send(conn *wire.Conn, ir *inflightReq) {
	req := &ir.req
	req.Default()
	req.Acks = int16(s.cfg.acks)
	req.TimeoutMillis = int32(s.cfg.requestTimeout / time.Millisecond)
	req.TransactionID = s.txn.idPtr()
	records := 0
	for _, rb := range ir.batches {
		rt := s.requestTopic(req, rb.part.topic)
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = rb.part.id
		rp.Records = rb.b.Bytes()
		rt.Partitions = append(rt.Partitions, rp)
		records += rb.numRecords()
		s.m.bytesWritten.Add(int64(len(rp.Records)))
		s.m.bytesRaw.Add(int64(rb.b.Len()))
	}
	s.m.requestsSent.Add(1)
	s.m.requestsInFlight.Add(1)
	s.m.batchesSent.Add(int64(len(ir.batches)))
	s.m.batchRecords.Add(int64(records))
	ir.sentAt = time.Now()
	conn.SendInto(req, &ir.into, s.cfg.requestTimeout, ir.onDone)
}

// requestTopic finds or adds the entry of topic in req, reusing the
// partition slice a recycled entry left behind.
func (s *sender) requestTopic(req *kmsg.ProduceRequest, topic string) *kmsg.ProduceRequestTopic {
	for i := range req.Topics {
		if req.Topics[i].Topic == topic {
			return &req.Topics[i]
		}
	}
	n := len(req.Topics)
	if n < cap(req.Topics) {
		req.Topics = req.Topics[:n+1]
	} else {
		req.Topics = append(req.Topics, kmsg.ProduceRequestTopic{})
	}
	rt := &req.Topics[n]
	parts := rt.Partitions[:0]
	*rt = kmsg.NewProduceRequestTopic()
	rt.Topic, rt.Partitions = topic, parts
	if t := s.md.Topic(topic); t != nil {
		rt.TopicID = t.ID
	}
	return rt
}
