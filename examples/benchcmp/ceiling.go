package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/examples/internal/loadgen"
	"github.com/kprod/kprod/internal/batch"
	"github.com/kprod/kprod/internal/histogram"
	"github.com/kprod/kprod/partitioner"
)

// The ceiling client sends produce requests encoded before the clock starts:
// the workload's records, cut into batches of batch.size (uncompressed, as
// the Java producer cuts them; compressed with the workload's codec), one
// batch per partition in each request to a partition's leader, as a client
// that drains every ready partition would send them. In the timed loop it
// does per request only what the broker forces: the next producer sequence
// in each batch's header (batch.Builder.Stamp rewrites the 61-byte header
// and its CRC without reading the records; the header is copied into the
// request), the correlation id, one write, and reading the answer, with up
// to maxInFlight requests in flight per leader. The batches cycle through
// the run's 4 MiB value corpus; sequences continue from batch to batch, so
// a real broker's idempotence checks accept every request.
//
// In the latency workload (a fixed rate, linger 0) it sends, whenever a
// request may go (fewer than maxInFlight unanswered), one batch of every
// record that has fallen due since the last one — one record when it keeps
// up, more when answers are slow, as a linger-0 producer does — to the
// partitions in turn, from pre-encoded batches of 1 to maxPacedBatch
// records. A record's latency runs from the moment it fell due to its answer.

// maxInFlight is how many requests the ceiling pipelines per leader, the
// idempotent producer's limit.
const maxInFlight = 5

// maxPacedBatch is the largest batch the latency workload's ceiling sends:
// the records due while every request in flight waits for its answer.
const maxPacedBatch = 64

// maxProduceVersion is the highest Produce version the ceiling speaks: v13
// names topics by id, v12 by name.
const maxProduceVersion = 12

// errCeiling wraps what stops the ceiling client.
var errCeiling = errors.New("benchcmp: ceiling client")

// ceilingBatch is one pre-encoded batch and where its header sits in the
// request that carries it.
type ceilingBatch struct {
	b         *batch.Builder
	partition int32
	records   int32
	at        int // offset of the batch in its request's frame
}

// ceilingRequest is one pre-encoded produce request.
type ceilingRequest struct {
	frame   []byte // size prefix, header and body, as written on the wire
	batches []ceilingBatch
	records int64
}

// ceilingPlan is everything the ceiling sends, grouped by leader.
type ceilingPlan struct {
	version  int16
	leaders  map[int32]string            // node id → address
	requests map[int32][]*ceilingRequest // node id → its ring of requests
	// paced is, for the latency workload, per partition and per batch
	// size n (index n-1), a ring of requests of one batch of n records;
	// pacedLeader is each partition's leader.
	paced       [][][]*ceilingRequest
	pacedLeader []int32
}

// ceilingSession is what the broker gave the ceiling: who leads what, the
// producer id, and the Produce version.
type ceilingSession struct {
	leaders    map[int32]string // node id → address
	leaderOf   []int32          // partition → leader node id
	producerID int64
	epoch      int16
	version    int16
}

// openCeilingSession asks the cluster for the topic's leaders, an
// idempotent producer id and the Produce version, with a kgo client used
// only for these control requests (and closed before timing).
func openCeilingSession(ctx context.Context, brokers []string, topic string) (*ceilingSession, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("benchcmp-ceiling"))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	md := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	md.Topics = append(md.Topics, t)
	mresp, err := md.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata: %w", errCeiling, err)
	}
	s := &ceilingSession{leaders: make(map[int32]string)}
	addrs := make(map[int32]string)
	for _, b := range mresp.Brokers {
		addrs[b.NodeID] = net.JoinHostPort(b.Host, fmt.Sprint(b.Port))
	}
	if len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 || len(mresp.Topics[0].Partitions) == 0 {
		return nil, fmt.Errorf("%w: topic %q not in metadata", errCeiling, topic)
	}
	parts := mresp.Topics[0].Partitions
	s.leaderOf = make([]int32, len(parts))
	for _, p := range parts {
		if p.ErrorCode != 0 || int(p.Partition) >= len(parts) || addrs[p.Leader] == "" {
			return nil, fmt.Errorf("%w: partition %d has no leader (%v)", errCeiling, p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
		s.leaderOf[p.Partition] = p.Leader
		s.leaders[p.Leader] = addrs[p.Leader]
	}
	s.version = maxProduceVersion
	for id := range s.leaders {
		vresp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl.Broker(int(id)))
		if err != nil {
			return nil, fmt.Errorf("%w: api versions: %w", errCeiling, err)
		}
		for _, k := range vresp.ApiKeys {
			if k.ApiKey == 0 {
				s.version = min(s.version, k.MaxVersion)
			}
		}
	}
	if s.version < 3 {
		return nil, fmt.Errorf("%w: the broker speaks Produce v%d, record batches need v3+", errCeiling, s.version)
	}
	ipid, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("%w: init producer id: %w", errCeiling, err)
	}
	if err := kerr.ErrorForCode(ipid.ErrorCode); err != nil {
		return nil, fmt.Errorf("%w: init producer id: %w", errCeiling, err)
	}
	s.producerID, s.epoch = ipid.ProducerID, ipid.ProducerEpoch
	return s, nil
}

// buildBatches cuts the workload's record stream into finished batches per
// partition: keyed records go where kprod's (Java's) key hash sends them,
// the others fill one partition's batch, then the next one's (sticky). It
// stops once the stream went through the value corpus and every partition
// has at least two batches.
func buildBatches(w workload, values, keys [][]byte, partitions int) ([][]*batch.Builder, error) {
	comp, err := ceilingCompressor(w.codec)
	if err != nil {
		return nil, err
	}
	open := make([]*batch.Builder, partitions)
	done := make([][]*batch.Builder, partitions)
	sticky := 0
	ts := time.Now().UnixMilli()
	finish := func(p int) error {
		if err := open[p].Finish(comp); err != nil {
			return err
		}
		done[p] = append(done[p], open[p])
		open[p] = nil
		return nil
	}
	enough := func(i int) bool {
		if i < len(values) {
			return false
		}
		for _, d := range done {
			if len(d) < 2 {
				return false
			}
		}
		return true
	}
	for i := 0; !enough(i); i++ {
		if i > 64*len(values)+1_000_000 {
			return nil, fmt.Errorf("%w: records do not reach every partition", errCeiling)
		}
		var key []byte
		p := sticky
		if len(keys) > 0 {
			key = keys[i%len(keys)]
			p = int(partitioner.KeyPartition(key, partitions))
		}
		value := values[i%len(values)]
		if open[p] == nil {
			open[p] = newBuilder(w.batchSize)
		}
		b := open[p]
		if b.NumRecords() > 0 && b.Len()+b.AppendSize(ts, key, value, nil) > w.batchSize {
			if err := finish(p); err != nil {
				return nil, err
			}
			if len(keys) == 0 {
				sticky = (sticky + 1) % partitions
				p = sticky
			}
			if open[p] == nil {
				open[p] = newBuilder(w.batchSize)
			}
			b = open[p]
		}
		b.Append(ts, key, value, nil)
	}
	return done, nil
}

// newBuilder is an empty batch with room for size bytes.
func newBuilder(size int) *batch.Builder {
	b := new(batch.Builder)
	b.Reset(make([]byte, 0, size+batch.Overhead))
	return b
}

// buildPaced makes, for the latency workload, per partition and batch size
// n from 1 to maxPacedBatch, two finished batches of n records each (the
// records of a latency workload have no key).
func buildPaced(w workload, values [][]byte, partitions int) ([][][]*batch.Builder, error) {
	comp, err := ceilingCompressor(w.codec)
	if err != nil {
		return nil, err
	}
	ts := time.Now().UnixMilli()
	out := make([][][]*batch.Builder, partitions)
	i := 0
	for p := range out {
		out[p] = make([][]*batch.Builder, maxPacedBatch)
		for n := 1; n <= maxPacedBatch; n++ {
			for range 2 {
				b := newBuilder(n * (w.valueSize + 32))
				for range n {
					b.Append(ts, nil, values[i%len(values)], nil)
					i++
				}
				if err := b.Finish(comp); err != nil {
					return nil, err
				}
				out[p][n-1] = append(out[p][n-1], b)
			}
		}
	}
	return out, nil
}

// ceilingCompressor is the batch compressor of codec (nil for none).
func ceilingCompressor(codec string) (*batch.Compressor, error) {
	if codec == "none" {
		return nil, nil
	}
	c, err := batch.ParseCodec(codec)
	if err != nil {
		return nil, err
	}
	return batch.NewCompressor(c, batch.DefaultLevel)
}

// encodeRequest frames one produce request carrying bs (one per partition)
// and finds where each batch landed in the frame.
func encodeRequest(version int16, topic string, bs []ceilingBatch) (*ceilingRequest, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = -1
	req.TimeoutMillis = 30_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for _, b := range bs {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = b.partition
		rp.Records = b.b.Bytes()
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("benchcmp-ceiling")).AppendRequest(nil, req, 0)
	r := &ceilingRequest{frame: frame}
	from := 0
	for _, b := range bs {
		i := bytes.Index(frame[from:], b.b.Bytes())
		if i < 0 {
			return nil, fmt.Errorf("%w: batch of partition %d not found in its request", errCeiling, b.partition)
		}
		b.at = from + i
		from = b.at + len(b.b.Bytes())
		r.batches = append(r.batches, b)
		r.records += int64(b.records)
	}
	return r, nil
}

// plan pre-encodes what the ceiling sends for workload w.
func (s *ceilingSession) plan(w workload, topic string, values, keys [][]byte) (*ceilingPlan, error) {
	parts := len(s.leaderOf)
	pl := &ceilingPlan{version: s.version, leaders: s.leaders, requests: make(map[int32][]*ceilingRequest)}
	mk := func(p int, b *batch.Builder) ceilingBatch {
		return ceilingBatch{b: b, partition: int32(p), records: int32(b.NumRecords())}
	}
	if w.latency {
		paced, err := buildPaced(w, values, parts)
		if err != nil {
			return nil, err
		}
		for p := range parts {
			bySize := make([][]*ceilingRequest, maxPacedBatch)
			for n, bs := range paced[p] {
				for _, b := range bs {
					r, err := encodeRequest(s.version, topic, []ceilingBatch{mk(p, b)})
					if err != nil {
						return nil, err
					}
					bySize[n] = append(bySize[n], r)
				}
			}
			pl.paced = append(pl.paced, bySize)
			pl.pacedLeader = append(pl.pacedLeader, s.leaderOf[p])
		}
		return pl, nil
	}
	built, err := buildBatches(w, values, keys, parts)
	if err != nil {
		return nil, err
	}
	// Request k to a leader carries batch k of each partition it leads.
	ring := len(built[0])
	for _, d := range built {
		ring = min(ring, len(d))
	}
	for id := range s.leaders {
		for k := range ring {
			var bs []ceilingBatch
			for p := range parts {
				if s.leaderOf[p] == id {
					bs = append(bs, mk(p, built[p][k]))
				}
			}
			r, err := encodeRequest(s.version, topic, bs)
			if err != nil {
				return nil, err
			}
			pl.requests[id] = append(pl.requests[id], r)
		}
	}
	return pl, nil
}

// ceilingConn is the connection to one leader: requests go out in order
// on it, at most maxInFlight unanswered, and one reader goroutine matches
// the answers.
type ceilingConn struct {
	c        net.Conn
	w        *bufio.Writer
	version  int16
	producer int64
	epoch    int16
	seq      []int32 // partition → next base sequence; the sending goroutine's
	next     int     // the next request of the leader's ring; the sending goroutine's
	corr     int32
	slots    chan struct{}   // a token per request in flight
	inflight chan inflightRq // FIFO of what the reader will be answered for
	answered *atomic.Int64   // records answered, all leaders
	hist     *histogram.H    // per-request send→answer latency
	lat      *atomic.Int64   // largest latency, ns
	err      atomic.Pointer[error]
	readDone chan struct{}
}

// inflightRq is a request the reader waits for: its records' latencies run
// from start, the moment the first fell due (or the request was written),
// each later record step after the one before.
type inflightRq struct {
	corr    int32
	records int64
	start   time.Time
	step    time.Duration // 0: one latency per request, from start
}

func dialCeiling(ctx context.Context, addr string, s *ceilingSession, parts int, answered *atomic.Int64, h *histogram.H, lat *atomic.Int64) (*ceilingConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCeiling, err)
	}
	cc := &ceilingConn{c: c, w: bufio.NewWriterSize(c, 64<<10), version: s.version, producer: s.producerID, epoch: s.epoch,
		seq: make([]int32, parts), slots: make(chan struct{}, maxInFlight), inflight: make(chan inflightRq, maxInFlight),
		answered: answered, hist: h, lat: lat, readDone: make(chan struct{})}
	go cc.read()
	return cc, nil
}

// send writes r once a slot is free. Only one goroutine sends on a
// connection.
func (cc *ceilingConn) send(ctx context.Context, r *ceilingRequest) error {
	if err := cc.acquire(ctx); err != nil {
		return err
	}
	return cc.write(r, time.Now(), 0)
}

// acquire waits for a free slot: fewer than maxInFlight unanswered.
func (cc *ceilingConn) acquire(ctx context.Context) error {
	select {
	case cc.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-cc.readDone:
		return cc.failure()
	}
}

// write stamps r's batches with their next sequences and writes r, in the
// slot acquire took; start and step time its records (see inflightRq).
func (cc *ceilingConn) write(r *ceilingRequest, start time.Time, step time.Duration) error {
	for _, b := range r.batches {
		b.b.Stamp(cc.producer, cc.epoch, cc.seq[b.partition], false)
		copy(r.frame[b.at:b.at+batch.Overhead], b.b.Bytes()[:batch.Overhead])
		cc.seq[b.partition] += b.records
	}
	cc.corr++
	binary.BigEndian.PutUint32(r.frame[8:12], uint32(cc.corr))
	cc.inflight <- inflightRq{corr: cc.corr, records: r.records, start: start, step: step}
	if _, err := cc.w.Write(r.frame); err != nil {
		return fmt.Errorf("%w: write: %w", errCeiling, err)
	}
	return cc.w.Flush()
}

// read answers the requests in order until the connection closes.
func (cc *ceilingConn) read() {
	defer close(cc.readDone)
	rd := bufio.NewReaderSize(cc.c, 64<<10)
	var size [4]byte
	var body []byte
	resp := kmsg.NewPtrProduceResponse()
	for {
		if _, err := io.ReadFull(rd, size[:]); err != nil {
			cc.fail(err)
			return
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if n < 4 || n > 64<<20 {
			cc.fail(fmt.Errorf("response of %d bytes", n))
			return
		}
		if cap(body) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(rd, body); err != nil {
			cc.fail(err)
			return
		}
		rq := <-cc.inflight
		if corr := int32(binary.BigEndian.Uint32(body)); corr != rq.corr {
			cc.fail(fmt.Errorf("answer to request %d, expected %d", corr, rq.corr))
			return
		}
		rest := body[4:]
		if cc.version >= 9 { // flexible response header: tagged fields
			if len(rest) == 0 || rest[0] != 0 {
				cc.fail(errors.New("unexpected tagged fields in the response header"))
				return
			}
			rest = rest[1:]
		}
		resp.Default()
		resp.Version = cc.version
		if err := resp.ReadFrom(rest); err != nil {
			cc.fail(err)
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					cc.fail(fmt.Errorf("partition %d: %w", p.Partition, err))
					return
				}
			}
		}
		lat := int64(time.Since(rq.start)) // the first record's: the longest
		if rq.step > 0 {
			step := int64(rq.step)
			cc.hist.RecordAll(int(rq.records), func(i int) int64 { return max(lat-int64(i)*step, 0) })
		} else {
			cc.hist.Record(lat)
		}
		raiseMax(cc.lat, lat)
		cc.answered.Add(rq.records)
		<-cc.slots
	}
}

func (cc *ceilingConn) fail(err error) {
	err = fmt.Errorf("%w: %w", errCeiling, err)
	cc.err.CompareAndSwap(nil, &err)
}

// failure is why the reader stopped (nil if it has not).
func (cc *ceilingConn) failure() error {
	if p := cc.err.Load(); p != nil {
		return *p
	}
	return nil
}

// drain waits until every request sent was answered, or the reader failed.
func (cc *ceilingConn) drain(ctx context.Context) error {
	for range maxInFlight {
		select {
		case cc.slots <- struct{}{}:
		case <-cc.readDone:
			return cc.failure()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for range maxInFlight {
		<-cc.slots
	}
	return nil
}

func (cc *ceilingConn) close() {
	cc.c.Close()
	<-cc.readDone
}

func raiseMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// ceilingRun is the ceiling client connected and ready to send.
type ceilingRun struct {
	plan     *ceilingPlan
	conns    map[int32]*ceilingConn
	answered atomic.Int64
	hist     *histogram.H
	maxLat   atomic.Int64
	pacedAt  [][]int // partition, batch size → next request of its ring
	// pacedRequests counts the latency workload's requests (its sending
	// goroutine's), for records per request.
	pacedRequests int64
}

func startCeiling(ctx context.Context, s *ceilingSession, pl *ceilingPlan) (*ceilingRun, error) {
	cr := &ceilingRun{plan: pl, conns: make(map[int32]*ceilingConn)}
	for range pl.paced {
		cr.pacedAt = append(cr.pacedAt, make([]int, maxPacedBatch))
	}
	cr.hist = new(histogram.H)
	for id, addr := range pl.leaders {
		cc, err := dialCeiling(ctx, addr, s, len(s.leaderOf), &cr.answered, cr.hist, &cr.maxLat)
		if err != nil {
			cr.close()
			return nil, err
		}
		cr.conns[id] = cc
	}
	return cr, nil
}

// phase sends at least records records (whole requests; more by up to one
// request per leader) and waits for their answers; rate > 0 paces them
// (see paced). It returns how many records were sent.
func (cr *ceilingRun) phase(ctx context.Context, records int64, rate float64) (int64, error) {
	var sent atomic.Int64
	if rate > 0 {
		n, err := cr.paced(ctx, records, rate)
		if err != nil {
			return n, err
		}
		sent.Store(n)
	} else {
		var wg sync.WaitGroup
		errs := make(chan error, len(cr.conns))
		for id, cc := range cr.conns {
			ring := cr.plan.requests[id]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					r := ring[cc.next%len(ring)]
					if sent.Add(r.records)-r.records >= records {
						sent.Add(-r.records)
						return
					}
					cc.next++
					if err := cc.send(ctx, r); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return sent.Load(), err
		}
	}
	for _, cc := range cr.conns {
		if err := cc.drain(ctx); err != nil {
			return sent.Load(), err
		}
	}
	return sent.Load(), nil
}

// paced sends records records falling due at rate: whenever the next
// partition's leader has a free slot, one batch of all records due by then
// (at most maxPacedBatch).
func (cr *ceilingRun) paced(ctx context.Context, records int64, rate float64) (int64, error) {
	step := time.Duration(1e9 / rate)
	start := time.Now()
	due := func() int64 { return int64(time.Since(start)/step) + 1 } // records fallen due so far
	var sent int64
	for p := 0; sent < records; p = (p + 1) % len(cr.plan.paced) {
		if d := due() - sent; d <= 0 {
			time.Sleep(start.Add(time.Duration(sent) * step).Sub(time.Now()))
		}
		cc := cr.conns[cr.plan.pacedLeader[p]]
		if err := cc.acquire(ctx); err != nil {
			return sent, err
		}
		n := max(min(due()-sent, maxPacedBatch, records-sent), 1) // ≥ 1: the sleep ended at a record's time
		ring := cr.plan.paced[p][n-1]
		r := ring[cr.pacedAt[p][n-1]%len(ring)]
		cr.pacedAt[p][n-1]++
		if err := cc.write(r, start.Add(time.Duration(sent)*step), step); err != nil {
			return sent, err
		}
		sent += n
		cr.pacedRequests++
	}
	return sent, nil
}

func (cr *ceilingRun) close() {
	for _, cc := range cr.conns {
		cc.close()
	}
}

// measureCeiling is measure for the ceiling client.
func measureCeiling(cfg childConfig) (*result, error) {
	values := makeValues(cfg.workload.valueSize)
	keys := makeKeys(cfg.workload.keys)
	startRSS, err := procStatusKiB("VmRSS")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	s, err := openCeilingSession(ctx, cfg.brokers, cfg.topic)
	if err != nil {
		return nil, err
	}
	pl, err := s.plan(cfg.workload, cfg.topic, values, keys)
	if err != nil {
		return nil, err
	}
	cr, err := startCeiling(ctx, s, pl)
	if err != nil {
		return nil, err
	}
	defer cr.close()
	rate := cfg.workload.rate
	if cfg.warmup > 0 {
		if _, err := cr.phase(ctx, cfg.warmup, rate); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	cr.hist = new(histogram.H) // the measured phase's latencies only
	for _, cc := range cr.conns {
		cc.hist = cr.hist
	}
	cr.maxLat.Store(0)
	cr.pacedRequests = 0
	runtime.GC()
	stopProfile, err := loadgen.StartCPUProfile(cfg.cpuProfile)
	if err != nil {
		return nil, err
	}
	before, err := takeSample()
	if err != nil {
		stopProfile()
		return nil, err
	}
	n, sendErr := cr.phase(ctx, cfg.records, rate)
	after, err := takeSample()
	stopProfile()
	if err != nil {
		return nil, err
	}
	if sendErr != nil {
		return nil, sendErr
	}
	cr.close()
	peak, err := procStatusKiB("VmHWM")
	if err != nil {
		return nil, err
	}
	secs := after.at.Sub(before.at).Seconds()
	requests := 0
	for _, ring := range pl.requests {
		requests += len(ring)
	}
	r := &result{
		Lib: libCeiling, Workload: cfg.workload.name, Records: n, Warmup: cfg.warmup,
		Seconds:         secs,
		RecordsPerSec:   float64(n) / secs,
		CPUMicrosPerRec: float64(after.cpu-before.cpu) / 1e3 / float64(n),
		AllocsPerRec:    float64(after.mallocs-before.mallocs) / float64(n),
		BytesPerRec:     float64(after.bytes-before.bytes) / float64(n),
		GCs:             after.gcs - before.gcs,
		P50Ms:           float64(cr.hist.Mid(0.50)) / 1e6,
		P99Ms:           float64(cr.hist.Mid(0.99)) / 1e6,
		MaxMs:           float64(cr.maxLat.Load()) / 1e6,
		StartRSSKiB:     startRSS,
		PeakRSSKiB:      peak,
	}
	var recs, batches int64
	for _, ring := range pl.requests {
		for _, rq := range ring {
			recs += rq.records
			batches += int64(len(rq.batches))
		}
	}
	switch {
	case cfg.workload.latency && cr.pacedRequests > 0:
		r.RecordsPerBatch = float64(n) / float64(cr.pacedRequests) // one batch a request
		r.RecordsPerRequest = r.RecordsPerBatch
	case requests > 0 && batches > 0:
		r.RecordsPerBatch = float64(recs) / float64(batches)
		r.RecordsPerRequest = float64(recs) / float64(requests)
	}
	return r, nil
}
