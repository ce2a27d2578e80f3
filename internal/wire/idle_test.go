package wire

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// idlePool returns a pool with IdleTimeout idle whose broker 1 is a fake
// broker answering Metadata after delay; dials counts the dials.
func idlePool(t *testing.T, idle, delay time.Duration, dials *atomic.Int32) *Pool {
	t.Helper()
	f := &fakeBroker{handle: answering(func(req kmsg.Request, corr int32) [][]byte {
		time.Sleep(delay)
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = req.GetVersion()
		return [][]byte{respond(corr, resp)}
	})}
	dial := f.dialer(t)
	p, err := NewPool(&Config{
		IdleTimeout: idle,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dial(ctx, network, addr)
		},
	}, []string{"seed:9092"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.SetBrokers(map[int32]string{1: "broker1:9092"})
	return p
}

// readyNow dials broker 1 for Produce inside a synctest bubble.
func readyNow(t *testing.T, p *Pool) *Conn {
	t.Helper()
	if c, err := p.Ready(1, Produce); err == nil {
		return c
	}
	synctest.Wait()
	c, err := p.Ready(1, Produce)
	if err != nil {
		t.Fatalf("Ready after the dial: %v", err)
	}
	return c
}

// TestPoolIdleConnClosedAndRedialed: a conn used every few seconds stays;
// once left alone for IdleTimeout it is closed, and the next Ready dials a
// new one at once (no reconnect backoff).
func TestPoolIdleConnClosedAndRedialed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 10 * time.Second
		var dials atomic.Int32
		p := idlePool(t, idle, 0, &dials)
		c1 := readyNow(t, p)
		var rec errRecorder
		for range 10 { // 30s of steady traffic, 3s apart
			c := readyNow(t, p)
			if c != c1 {
				t.Fatal("a busy conn was replaced")
			}
			c.Send(kmsg.NewPtrMetadataRequest(), 0, rec.done)
			time.Sleep(3 * time.Second)
			synctest.Wait()
		}
		if n := dials.Load(); n != 1 {
			t.Fatalf("%d dials under steady traffic; want 1", n)
		}
		for i, err := range rec.get() {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}

		// The last request went out 3s ago: 7s more and it is idle.
		time.Sleep(idle - 3*time.Second - time.Millisecond)
		synctest.Wait()
		if !c1.alive() {
			t.Fatal("closed before IdleTimeout")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if c1.alive() {
			t.Fatal("still open after IdleTimeout with nothing in flight")
		}
		if !errors.Is(c1.Err(), ErrClosed) {
			t.Fatalf("idle close error %v; want ErrClosed", c1.Err())
		}
		c2 := readyNow(t, p)
		if c2 == c1 || dials.Load() != 2 {
			t.Fatalf("no redial on demand: %d dials", dials.Load())
		}
		if _, err := c2.Request(context.Background(), kmsg.NewPtrMetadataRequest()); err != nil {
			t.Fatalf("request on the redialed conn: %v", err)
		}
	})
}

// TestPoolIdleKeepsInFlight: a request the broker holds for longer than
// IdleTimeout keeps its conn open; the conn closes only IdleTimeout after
// that request was sent and once its answer arrived.
func TestPoolIdleKeepsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle, hold = 10 * time.Second, 25 * time.Second
		var dials atomic.Int32
		p := idlePool(t, idle, hold, &dials)
		c := readyNow(t, p)
		var rec errRecorder
		c.Send(kmsg.NewPtrMetadataRequest(), 0, rec.done)
		time.Sleep(hold - time.Millisecond)
		synctest.Wait()
		if !c.alive() || c.InFlight() != 1 {
			t.Fatalf("conn with a request in flight: alive %v, %d in flight", c.alive(), c.InFlight())
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got := rec.get(); len(got) != 1 || got[0] != nil {
			t.Fatalf("held request answered with %v", got)
		}
		// Sent 25s ago and answered: the next check, a quarter period
		// on at most, closes it.
		time.Sleep(idle / 4)
		synctest.Wait()
		if c.alive() {
			t.Fatal("conn still open a quarter IdleTimeout after its last answer")
		}
		if dials.Load() != 1 {
			t.Fatalf("%d dials; want 1", dials.Load())
		}
	})
}

// TestPoolIdleHandOutWins: a conn handed out by Ready is not closed by an
// idle check that runs before the caller sends on it.
func TestPoolIdleHandOutWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 10 * time.Second
		var dials atomic.Int32
		p := idlePool(t, idle, 0, &dials)
		readyNow(t, p)
		time.Sleep(idle - time.Millisecond)
		c := readyNow(t, p) // handed out just before the check
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if !c.alive() {
			t.Fatal("a conn just handed out was closed as idle")
		}
		if _, err := c.Request(context.Background(), kmsg.NewPtrMetadataRequest()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPoolIdleOff: with IdleTimeout zero, conns stay open.
func TestPoolIdleOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var dials atomic.Int32
		p := idlePool(t, 0, 0, &dials)
		c := readyNow(t, p)
		time.Sleep(time.Hour)
		synctest.Wait()
		if !c.alive() {
			t.Fatal("closed with IdleTimeout off")
		}
	})
}
