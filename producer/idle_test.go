package producer

import (
	"context"
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// connTracker is a dialer that remembers every connection it opened, which
// of them carried Produce requests and which the producer closed.
type connTracker struct {
	mu    sync.Mutex
	conns []*trackedConn
}

type trackedConn struct {
	net.Conn
	t       *connTracker
	addr    string
	produce bool // a Produce request was written on it
	closed  bool // the producer closed it
}

func (ct *connTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := &trackedConn{Conn: nc, t: ct, addr: addr}
	ct.mu.Lock()
	ct.conns = append(ct.conns, c)
	ct.mu.Unlock()
	return c, nil
}

// Write notes Produce requests: the wire package writes one whole frame
// per Write, so the api key is at bytes 4-5.
func (c *trackedConn) Write(b []byte) (int, error) {
	if len(b) >= 6 && int16(binary.BigEndian.Uint16(b[4:6])) == kmsg.Produce.Int16() {
		c.t.mu.Lock()
		c.produce = true
		c.t.mu.Unlock()
	}
	return c.Conn.Write(b)
}

func (c *trackedConn) Close() error {
	c.t.mu.Lock()
	c.closed = true
	c.t.mu.Unlock()
	return c.Conn.Close()
}

// produceConns counts the Produce connections to addr: opened and closed.
func (ct *connTracker) produceConns(addr string) (opened, closed int) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for _, c := range ct.conns {
		if c.addr == addr && c.produce {
			opened++
			if c.closed {
				closed++
			}
		}
	}
	return opened, closed
}

// leaderAddr returns the address of the broker leading partition 0 of topic.
func leaderAddr(t *testing.T, p *Producer, c *kfake.Cluster, topic string) string {
	t.Helper()
	parts, err := p.PartitionsFor(ctxTimeout(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := p.conns.Broker(parts[0].Leader)
	if !ok {
		t.Fatalf("leader %d of %s unknown", parts[0].Leader, topic)
	}
	return addr
}

// TestConnectionsMaxIdle: under continuous sending to one broker its
// Produce connection stays open; the connection to a broker left idle is
// closed after connections.max.idle and the next Send to it reconnects;
// every record lands exactly once.
func TestConnectionsMaxIdle(t *testing.T) {
	const idle = 300 * time.Millisecond
	colds := []string{"cold0", "cold1", "cold2", "cold3", "cold4", "cold5"}
	c := newCluster(t, kfake.SeedTopics(1, append([]string{"hot"}, colds...)...))
	var ct connTracker
	p := newTestProducer(t, c, WithConnectionsMaxIdle(idle), WithDialer(ct.dial), WithLinger(time.Millisecond))

	hotAddr := leaderAddr(t, p, c, "hot")
	cold, coldAddr := "", ""
	for _, name := range colds {
		if a := leaderAddr(t, p, c, name); a != hotAddr {
			cold, coldAddr = name, a
			break
		}
	}
	if cold == "" {
		t.Fatal("every topic is led by the hot topic's broker")
	}

	hot, coldL := newLedger(t), newLedger(t)
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, coldL.record(cold, 0)); err != nil {
		t.Fatal(err)
	}
	coldL.callback(0)(RecordMetadata{Offset: -1}, nil)

	// Five idle periods of steady sending to the hot broker, the cold one
	// untouched.
	id := 0
	for end := time.Now().Add(5 * idle); time.Now().Before(end); id++ {
		p.Send(ctx, hot.record("hot", id), hot.callback(id))
		time.Sleep(10 * time.Millisecond)
	}
	hot.wait(20 * time.Second)
	if opened, closed := ct.produceConns(hotAddr); opened != 1 || closed != 0 {
		t.Fatalf("busy broker: %d Produce connections opened, %d closed; want 1, 0", opened, closed)
	}
	if opened, closed := ct.produceConns(coldAddr); opened != 1 || closed != 1 {
		t.Fatalf("idle broker: %d Produce connections opened, %d closed; want 1, 1", opened, closed)
	}

	// The next Send to the idle broker reconnects.
	for i := 1; i <= 3; i++ {
		p.Send(ctx, coldL.record(cold, i), coldL.callback(i))
	}
	coldL.wait(20 * time.Second)
	if opened, _ := ct.produceConns(coldAddr); opened != 2 {
		t.Fatalf("idle broker after a new Send: %d Produce connections; want 2", opened)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hot.checkLog(consume(t, c, "hot", id))
	coldL.checkLog(consume(t, c, cold, 4))
}

// TestConnectionsMaxIdleKeepsInFlight: a Produce request the broker holds
// for three idle periods keeps its connection: it is answered once, on the
// connection it went out on.
func TestConnectionsMaxIdleKeepsInFlight(t *testing.T) {
	const idle, hold = 200 * time.Millisecond, 800 * time.Millisecond
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	var ct connTracker
	p := newTestProducer(t, c, WithConnectionsMaxIdle(idle), WithDialer(ct.dial))
	addr := leaderAddr(t, p, c, "t")

	var mu sync.Mutex
	var closedDuringHold []int
	c.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { time.Sleep(hold) })
		_, closed := ct.produceConns(addr)
		mu.Lock()
		closedDuringHold = append(closedDuringHold, closed)
		mu.Unlock()
		return nil, nil, false
	})
	l := newLedger(t)
	ctx := ctxTimeout(t, 30*time.Second)
	md, err := p.SendSync(ctx, l.record("t", 0))
	if err != nil {
		t.Fatal(err)
	}
	l.callback(0)(md, nil)
	mu.Lock()
	got := slices.Clone(closedDuringHold)
	mu.Unlock()
	if !slices.Equal(got, []int{0}) {
		t.Fatalf("Produce connections closed while the request was held, per request: %v; want one request, [0]", got)
	}
	if opened, _ := ct.produceConns(addr); opened != 1 {
		t.Fatalf("%d Produce connections; want 1 (no reconnect, no resend)", opened)
	}
	l.checkLog(consume(t, c, "t", 1))
}

// TestMetadataMaxIdle: a topic not sent to for metadata.max.idle leaves the
// Metadata requests; a Send afterwards waits for its metadata, works, and
// brings it back into the requests.
func TestMetadataMaxIdle(t *testing.T) {
	const idle, age = 300 * time.Millisecond, 100 * time.Millisecond
	c := newCluster(t, kfake.SeedTopics(1, "busy", "quiet"))
	var mu sync.Mutex
	var asked [][]string
	c.ControlKey(kmsg.Metadata.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		var names []string
		for _, rt := range req.(*kmsg.MetadataRequest).Topics {
			if rt.Topic != nil {
				names = append(names, *rt.Topic)
			}
		}
		slices.Sort(names)
		mu.Lock()
		asked = append(asked, names)
		mu.Unlock()
		return nil, nil, false
	})
	lastAsked := func() []string {
		mu.Lock()
		defer mu.Unlock()
		if len(asked) == 0 {
			return nil
		}
		return asked[len(asked)-1]
	}
	p := newTestProducer(t, c, WithMetadataMaxIdle(idle), WithMetadataMaxAge(age))
	ctx := ctxTimeout(t, 30*time.Second)
	ledgers := map[string]*ledger{"busy": newLedger(t), "quiet": newLedger(t)}
	ids := map[string]int{}
	send := func(topic string) {
		t.Helper()
		l, id := ledgers[topic], ids[topic]
		md, err := p.SendSync(ctx, l.record(topic, id))
		if err != nil {
			t.Fatalf("send to %s: %v", topic, err)
		}
		l.callback(id)(md, nil)
		ids[topic]++
	}
	send("busy")
	send("quiet")
	for end := time.Now().Add(4 * idle); time.Now().Before(end); {
		send("busy")
		time.Sleep(20 * time.Millisecond)
	}
	if got := lastAsked(); !slices.Equal(got, []string{"busy"}) {
		t.Fatalf("Metadata request after metadata.max.idle named %v; want [busy]", got)
	}
	if p.md.Topic("quiet") != nil {
		t.Fatal("the idle topic's metadata is still cached")
	}
	send("quiet")
	// The next refreshes (every metadata.max.age) name both topics again.
	// Polled rather than slept for: the Send's own request for the topic
	// may come last, and a loaded machine may run a refresh late.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(age / 4) {
		got := lastAsked()
		if slices.Equal(got, []string{"busy", "quiet"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Metadata request after sending to the idle topic again named %v; want [busy quiet]", got)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for topic, l := range ledgers {
		l.checkLog(consume(t, c, topic, ids[topic]))
	}
}

// TestMetadataMaxIdleKeepsTopicWithBatches: a topic whose batches wait for
// the broker (every Produce refused with a retriable error for several idle
// periods, and no new Send) stays in the metadata refreshes, so its records
// are delivered once the broker takes them, not stranded leaderless until
// their delivery timeout.
func TestMetadataMaxIdleKeepsTopicWithBatches(t *testing.T) {
	const idle, age = 300 * time.Millisecond, 100 * time.Millisecond
	c := newCluster(t, kfake.SeedTopics(1, "stuck"))
	refuseUntil := time.Now().Add(time.Hour)
	var mu sync.Mutex
	refused := 0
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if time.Now().After(refuseUntil) {
			return nil, nil, false
		}
		refused++
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = 19 // NOT_ENOUGH_REPLICAS: retriable, written nowhere
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	p := newTestProducer(t, c, WithMetadataMaxIdle(idle), WithMetadataMaxAge(age), WithLogger(testLogger(t)))
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	fut := p.Send(ctx, l.record("stuck", 0), l.callback(0))
	time.Sleep(5 * idle) // several idle periods with the batch refused
	mu.Lock()
	n := refused
	refuseUntil = time.Now()
	mu.Unlock()
	if n < 2 {
		t.Fatalf("only %d Produce requests refused: the batch was not retried while the topic idled", n)
	}
	getCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := fut.Get(getCtx); err != nil {
		t.Fatalf("record with the broker refusing for %v, then taking it: %v", 5*idle, err)
	}
	l.checkLog(consume(t, c, "stuck", 1))
}
