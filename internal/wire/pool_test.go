package wire

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kprod/kprod/internal/backoff"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// clusterBrokers asks the cluster for its node id → address map.
func clusterBrokers(t testing.TB, cluster *kfake.Cluster, cfg *Config) map[int32]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, cluster.ListenAddrs()[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int32]string)
	for _, b := range raw.(*kmsg.MetadataResponse).Brokers {
		out[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	return out
}

// signal is an OnChange that never blocks.
type signal chan struct{}

func newSignal() signal { return make(signal, 1) }

func (s signal) poke() {
	select {
	case s <- struct{}{}:
	default:
	}
}

func (s signal) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-s:
	case <-time.After(d):
		t.Fatalf("no OnChange within %v", d)
	}
}

// readyWait polls Ready, sleeping on OnChange, until it returns a conn.
func readyWait(t testing.TB, p *Pool, changed signal, node int32, purpose Purpose) *Conn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := p.Ready(node, purpose)
		if err == nil {
			return c
		}
		if !errors.Is(err, ErrNotReady) {
			t.Fatalf("Ready: %v", err)
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("broker %d never ready", node)
	return nil
}

func TestNewPoolRejectsBadSeeds(t *testing.T) {
	for _, seed := range []string{"", "localhost", "localhost:", "localhost:kafka", ":9092", "localhost:0", "localhost:70000"} {
		if _, err := NewPool(nil, []string{"ok:9092", seed}); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("seed %q: %v; want ErrInvalidAddress", seed, err)
		}
	}
	if _, err := NewPool(nil, nil); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("no seeds: %v", err)
	}
	p, err := NewPool(nil, []string{"localhost:9092", "[::1]:9092"})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}

func TestPoolReadyNeverBlocks(t *testing.T) {
	cluster := newCluster(t)
	brokers := clusterBrokers(t, cluster, nil)
	gate := make(chan struct{})
	var dials atomic.Int32
	changed := newSignal()
	var d net.Dialer
	p, err := NewPool(&Config{
		OnChange: changed.poke,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return d.DialContext(ctx, network, addr)
		},
	}, cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetBrokers(brokers)

	for i := 0; i < 100; i++ {
		start := time.Now()
		c, err := p.Ready(0, Produce)
		if el := time.Since(start); el > 20*time.Millisecond {
			t.Fatalf("Ready took %v while a dial hangs", el)
		}
		var nr *NotReadyError
		if c != nil || !errors.As(err, &nr) || !errors.Is(err, ErrNotReady) || !nr.Dialing || nr.Node != 0 {
			t.Fatalf("Ready during a dial: %v, %v", c, err)
		}
	}
	for deadline := time.Now().Add(time.Second); dials.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials started; want 1", n)
	}
	close(gate)
	changed.wait(t, 5*time.Second)
	c, err := p.Ready(0, Produce)
	if err != nil {
		t.Fatalf("Ready after OnChange: %v", err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = p.Ready(0, Produce) }); allocs != 0 {
		t.Fatalf("Ready with a live conn allocates %v times", allocs)
	}
	// The other purpose is a separate connection.
	ctl := readyWait(t, p, changed, 0, Control)
	if ctl == c {
		t.Fatal("produce and control share a connection")
	}
	if _, err := p.Ready(42, Produce); !errors.Is(err, ErrUnknownBroker) {
		t.Fatalf("Ready for an unknown node: %v", err)
	}
}

func TestPoolReconnectBackoffGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refused := errors.New("connection refused")
		var dials atomic.Int32
		var changes atomic.Int32
		const base, maxBackoff = 10 * time.Millisecond, 80 * time.Millisecond
		p, err := NewPool(&Config{
			ReconnectBackoff:    base,
			ReconnectBackoffMax: maxBackoff,
			OnChange:            func() { changes.Add(1) },
			Dial: func(context.Context, string, string) (net.Conn, error) {
				dials.Add(1)
				return nil, refused
			},
		}, []string{"seed:9092"})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.SetBrokers(map[int32]string{1: "broker1:9092"})

		for i := range 7 {
			if _, err := p.Ready(1, Produce); !errors.Is(err, ErrNotReady) {
				t.Fatalf("attempt %d: %v", i, err)
			}
			synctest.Wait() // the dial fails
			_, err := p.Ready(1, Produce)
			var nr *NotReadyError
			if !errors.As(err, &nr) || nr.Dialing || !errors.Is(err, refused) {
				t.Fatalf("attempt %d while backing off: %v", i, err)
			}
			wait := time.Until(nr.RetryAt)
			want := backoff.Capped(base, maxBackoff, i)
			if wait < want*8/10 || wait > want*12/10 {
				t.Fatalf("backoff %d = %v; want %v ±20%%", i, wait, want)
			}
			before := changes.Load()
			time.Sleep(wait - time.Nanosecond)
			synctest.Wait()
			if _, err := p.Ready(1, Produce); !errors.As(err, &nr) || nr.Dialing {
				t.Fatalf("a dial started before the backoff ended: %v", err)
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			if changes.Load() != before+1 {
				t.Fatal("no OnChange when the backoff ended")
			}
		}
		if n := dials.Load(); n != 7 {
			t.Fatalf("%d dials; want 7", n)
		}
	})
}

func TestPoolConnAndAny(t *testing.T) {
	cluster := newCluster(t)
	p, err := NewPool(nil, cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Before metadata, only the seeds are known.
	seedConn, err := p.Any(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := seedConn.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatal(err)
	}
	brokers := make(map[int32]string)
	for _, b := range raw.(*kmsg.MetadataResponse).Brokers {
		brokers[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	if again, _ := p.Any(ctx); again != seedConn {
		t.Fatal("Any dialed again instead of reusing the live seed conn")
	}
	p.SetBrokers(brokers)
	select {
	case <-seedConn.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("idle seed conn kept after brokers became known")
	}

	conns := map[*Conn]bool{}
	for node := range brokers {
		c, err := p.Conn(ctx, node, Control)
		if err != nil {
			t.Fatal(err)
		}
		if addr, _ := p.Broker(node); c.Addr() != addr {
			t.Fatalf("node %d conn to %s; want %s", node, c.Addr(), addr)
		}
		conns[c] = true
	}
	anyConn, err := p.Any(ctx)
	if err != nil || !conns[anyConn] {
		t.Fatalf("Any returned %v, %v; want one of the live broker conns", anyConn, err)
	}

	// A broker that leaves: its conns close and it is unknown.
	gone := anyConnNode(t, p, anyConn, brokers)
	delete(brokers, gone)
	p.SetBrokers(brokers)
	select {
	case <-anyConn.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("conn to a removed broker still open")
	}
	if _, ok := p.Broker(gone); ok {
		t.Fatal("removed broker still known")
	}
	if _, err := p.Conn(ctx, gone, Control); !errors.Is(err, ErrUnknownBroker) {
		t.Fatalf("Conn to a removed broker: %v", err)
	}
}

func anyConnNode(t testing.TB, p *Pool, c *Conn, brokers map[int32]string) int32 {
	t.Helper()
	for node, addr := range brokers {
		if addr == c.Addr() {
			return node
		}
	}
	t.Fatal("conn matches no broker")
	return -1
}

func TestPoolAnyGivesUpWithLastError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	p, err := NewPool(&Config{ReconnectBackoff: 10 * time.Millisecond, ReconnectBackoffMax: 20 * time.Millisecond}, []string{addr})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = p.Any(ctx)
	var opErr *net.OpError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &opErr) {
		t.Fatalf("Any with nothing reachable: %v", err)
	}
}

func TestPoolRedialsAfterConnDies(t *testing.T) {
	cluster := newCluster(t)
	brokers := clusterBrokers(t, cluster, nil)
	changed := newSignal()
	p, err := NewPool(&Config{OnChange: changed.poke, ReconnectBackoff: 20 * time.Millisecond}, cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetBrokers(brokers)
	first := readyWait(t, p, changed, 1, Control)

	cluster.ControlKey(kmsg.Metadata.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		return nil, errors.New("drop it"), true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := first.Request(ctx, kmsg.NewPtrMetadataRequest()); !errors.Is(err, ErrClosed) {
		t.Fatalf("request on a dropped conn: %v", err)
	}
	changed.wait(t, 2*time.Second)
	_, err = p.Ready(1, Control)
	var nr *NotReadyError
	if !errors.As(err, &nr) || nr.Dialing || !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready right after the conn died: %v", err)
	}
	second := readyWait(t, p, changed, 1, Control)
	if second == first {
		t.Fatal("dead conn handed out again")
	}
	if _, err := second.Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatal(err)
	}
}

func TestPoolReplacesConnBeforeSASLSessionEnds(t *testing.T) {
	cluster := newCluster(t,
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "user", "secret"),
		kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "1000"}),
	)
	cfg := &Config{SASL: plain.Auth{User: "user", Pass: "secret"}.AsMechanism()}
	brokers := clusterBrokers(t, cluster, cfg)
	changed := newSignal()
	cfg.OnChange = changed.poke
	p, err := NewPool(cfg, cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetBrokers(brokers)
	old := readyWait(t, p, changed, 0, Produce)

	time.Sleep(time.Until(old.reauthAt) + time.Millisecond)
	if c, err := p.Ready(0, Produce); c != old || err != nil {
		t.Fatalf("Ready once the session nears its end: %v, %v; want the old conn while its successor dials", c, err)
	}
	var next *Conn
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if c, _ := p.Ready(0, Produce); c != nil && c != old {
			next = c
			break
		}
	}
	if next == nil {
		t.Fatal("no replacement conn")
	}
	select {
	case <-old.Done():
	case <-time.After(time.Second):
		t.Fatal("replaced idle conn not closed")
	}
	if !next.SessionExpiry().After(old.SessionExpiry()) {
		t.Fatal("replacement has no fresh session")
	}
}

func TestPoolCloseLeavesNoGoroutines(t *testing.T) {
	requireNoGoroutines(t) // nothing from earlier tests
	cluster := newCluster(t)
	brokers := clusterBrokers(t, cluster, nil)
	hang := make(chan struct{})
	defer close(hang)
	changed := newSignal()
	var d net.Dialer
	var hanging sync.Once
	p, err := NewPool(&Config{
		OnChange: changed.poke,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == brokers[2] {
				var hung bool
				hanging.Do(func() { hung = true })
				if hung { // one dial hangs until the pool closes
					<-ctx.Done()
					return nil, ctx.Err()
				}
			}
			return d.DialContext(ctx, network, addr)
		},
	}, cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	p.SetBrokers(brokers)
	for _, node := range []int32{0, 1} {
		readyWait(t, p, changed, node, Produce)
		readyWait(t, p, changed, node, Control)
	}
	if _, err := p.Ready(2, Produce); !errors.Is(err, ErrNotReady) {
		t.Fatal(err)
	}
	// A request in flight when the pool closes.
	cluster.ControlKey(kmsg.Metadata.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.SleepControl(func() { <-hang })
		return nil, nil, false
	})
	c, _ := p.Ready(0, Control)
	inflight := newCountingDone()
	c.Send(kmsg.NewPtrMetadataRequest(), 0, inflight.done)

	p.Close()
	if inflight.count() != 1 || !errors.Is(inflight.err, ErrClosed) {
		t.Fatalf("in-flight request after Close: %d calls, %v", inflight.count(), inflight.err)
	}
	if _, err := p.Ready(0, Produce); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Ready after Close: %v", err)
	}
	if _, err := p.Any(context.Background()); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Any after Close: %v", err)
	}
	// Close waited for every goroutine; a short poll only covers the
	// instructions a goroutine runs after signalling its end.
	requireNoGoroutines(t)
	p.Close() // idempotent
}

func TestPoolSessionEndWhileSuccessorDials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lifetime = 10 * time.Second
		f := &fakeBroker{handle: answering(func(req kmsg.Request, corr int32) [][]byte {
			resp := req.ResponseKind()
			if a, ok := resp.(*kmsg.SASLAuthenticateResponse); ok {
				a.SessionLifetimeMillis = lifetime.Milliseconds()
			}
			return [][]byte{respond(corr, resp)}
		})}
		gate := make(chan struct{})
		var dials atomic.Int32
		pipe := f.dialer(t)
		p, err := NewPool(&Config{
			SASL: plain.Auth{User: "u", Pass: "p"}.AsMechanism(),
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) == 2 { // the successor waits
					select {
					case <-gate:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				return pipe(ctx, network, addr)
			},
		}, []string{"seed:9092"})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.SetBrokers(map[int32]string{1: "broker1:9092"})
		p.Ready(1, Produce)
		synctest.Wait()
		first, err := p.Ready(1, Produce)
		if err != nil {
			t.Fatal(err)
		}

		time.Sleep(time.Until(first.reauthAt))
		if c, err := p.Ready(1, Produce); c != first || err != nil {
			t.Fatalf("near the session end: %v, %v; want the old conn", c, err)
		}
		synctest.Wait()
		if dials.Load() != 2 {
			t.Fatalf("%d dials; the successor should be dialing", dials.Load())
		}
		time.Sleep(time.Until(first.retireAt))
		c, err := p.Ready(1, Produce)
		var nr *NotReadyError
		if c != nil || !errors.As(err, &nr) || !nr.Dialing {
			t.Fatalf("past the retire point: %v, %v; want not ready while dialing", c, err)
		}
		synctest.Wait()
		if first.alive() {
			t.Fatal("the idle expiring conn is still open")
		}
		close(gate)
		synctest.Wait()
		second, err := p.Ready(1, Produce)
		if err != nil || second == first {
			t.Fatalf("after the successor connected: %v, %v", second, err)
		}
		if !second.SessionExpiry().After(first.SessionExpiry()) {
			t.Fatal("successor has no fresh session")
		}
	})
}
