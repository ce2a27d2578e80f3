package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

func TestDialNegotiatesVersions(t *testing.T) {
	produceMax := func(v *kversion.Versions) int16 {
		n, _ := v.LookupMaxKeyVersion(kmsg.Produce.Int16())
		return n
	}
	capped := kversion.Stable()
	capped.SetMaxKeyVersion(kmsg.Produce.Int16(), 7)

	tests := []struct {
		name        string
		cluster     *kversion.Versions // nil: newest
		clientCap   *kversion.Versions
		wantProduce int16
		wantNoKey   int16 // a key the broker must lack; -1 to skip
	}{
		{name: "newest", wantProduce: 13, wantNoKey: -1},
		{name: "kafka 2.8", cluster: kversion.V2_8_0(), wantProduce: produceMax(kversion.V2_8_0()), wantNoKey: kmsg.DescribeTransactions.Int16()},
		{name: "kafka 0.11", cluster: kversion.V0_11_0(), wantProduce: produceMax(kversion.V0_11_0()), wantNoKey: kmsg.SASLAuthenticate.Int16()},
		{name: "client cap", clientCap: capped, wantProduce: 7, wantNoKey: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []kfake.Opt
			if tt.cluster != nil {
				opts = append(opts, kfake.MaxVersions(tt.cluster))
			}
			cluster := newCluster(t, opts...)
			c := dialT(t, cluster.ListenAddrs()[0], &Config{MaxVersions: tt.clientCap})
			got, ok := c.MaxVersion(kmsg.Produce.Int16())
			if !ok || got != tt.wantProduce {
				t.Fatalf("Produce max = %d, %v; want %d", got, ok, tt.wantProduce)
			}
			if tt.wantNoKey >= 0 {
				if v, ok := c.MaxVersion(tt.wantNoKey); ok {
					t.Fatalf("key %d negotiated at v%d; the broker lacks it", tt.wantNoKey, v)
				}
				var got error
				req := kmsg.RequestForKey(tt.wantNoKey)
				c.Send(req, time.Second, func(_ kmsg.Response, err error) { got = err })
				if !errors.Is(got, ErrUnsupportedVersion) {
					t.Fatalf("Send of an unsupported key: %v", got)
				}
			}
			// The negotiated versions work.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := c.Request(ctx, kmsg.NewPtrMetadataRequest())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(resp.(*kmsg.MetadataResponse).Brokers); n != 3 {
				t.Fatalf("metadata lists %d brokers", n)
			}
		})
	}
}

func TestApiVersionsRetriesWithAdvertisedVersion(t *testing.T) {
	old := kversion.V2_3_0() // ApiVersions v2
	cluster := newCluster(t, kfake.MaxVersions(old))
	var mu sync.Mutex
	var asked []int16
	cluster.ControlKey(kmsg.ApiVersions.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		asked = append(asked, req.GetVersion())
		mu.Unlock()
		return nil, nil, false
	})
	dialT(t, cluster.ListenAddrs()[0], nil)
	want, _ := old.LookupMaxKeyVersion(kmsg.ApiVersions.Int16())
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || asked[0] != kmsgMaxVersions()[kmsg.ApiVersions] || asked[1] != want {
		t.Fatalf("ApiVersions versions asked: %v; want [%d %d]", asked, kmsgMaxVersions()[kmsg.ApiVersions], want)
	}
}

func TestPipelinedProduceAnsweredInOrder(t *testing.T) {
	cluster := newCluster(t)
	c, id := leaderConn(t, cluster, nil)

	const n = 300
	type result struct {
		seq    int
		offset int64
		code   int16
		err    error
	}
	results := make(chan result, n)
	var calls [n]atomic.Int32
	for i := 0; i < n; i++ {
		c.Send(produceRequest(id, -1, []byte(fmt.Sprint(i))), 10*time.Second, func(resp kmsg.Response, err error) {
			calls[i].Add(1)
			r := result{seq: i, err: err}
			if err == nil {
				r.offset, r.code = baseOffset(t, resp)
			}
			results <- r
		})
	}
	for want := 0; want < n; want++ {
		select {
		case r := <-results:
			if r.err != nil || r.code != 0 {
				t.Fatalf("request %d: err %v code %d", r.seq, r.err, r.code)
			}
			if r.seq != want || r.offset != int64(want) {
				t.Fatalf("response %d: request %d at offset %d", want, r.seq, r.offset)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d responses", want)
		}
	}
	for i := range calls {
		if got := calls[i].Load(); got != 1 {
			t.Fatalf("done of request %d called %d times", i, got)
		}
	}
	if got := c.InFlight(); got != 0 {
		t.Fatalf("InFlight = %d after all responses", got)
	}
}

func TestProduceAcksZero(t *testing.T) {
	cluster := newCluster(t)
	c, id := leaderConn(t, cluster, nil)
	const n = 5
	for i := 0; i < n; i++ {
		called := false
		c.Send(produceRequest(id, 0, []byte("fire and forget")), time.Second, func(resp kmsg.Response, err error) {
			called = true
			if resp != nil || err != nil {
				t.Errorf("acks=0 done(%v, %v); want (nil, nil)", resp, err)
			}
		})
		if !called {
			t.Fatal("acks=0 done not called before Send returned")
		}
		if c.InFlight() != 0 {
			t.Fatalf("acks=0 request counted in flight")
		}
	}
	// The records landed: the next acknowledged batch follows them.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, produceRequest(id, -1, []byte("acked")))
	if err != nil {
		t.Fatal(err)
	}
	if off, code := baseOffset(t, resp); off != n || code != 0 {
		t.Fatalf("acked batch at offset %d code %d; want %d", off, code, n)
	}
}

// TestSendIntoReusesResponse sends produce requests that decode into one
// caller-owned response, reset between uses: done gets that very value, with
// the right offsets, and steady reuse allocates little per request.
func TestSendIntoReusesResponse(t *testing.T) {
	cluster := newCluster(t)
	c, id := leaderConn(t, cluster, nil)
	var into kmsg.ProduceResponse
	d := newCountingDone()
	req := produceRequest(id, -1, []byte("reused"))
	for i := range 20 {
		into = kmsg.ProduceResponse{Topics: into.Topics[:0]}
		c.SendInto(req, &into, 5*time.Second, d.done)
		resp, err := d.wait(t)
		if err != nil {
			t.Fatal(err)
		}
		if resp != kmsg.Response(&into) {
			t.Fatalf("request %d answered with %p, not the response it was given", i, resp)
		}
		if off, code := baseOffset(t, resp); off != int64(i) || code != 0 {
			t.Fatalf("request %d: offset %d code %d", i, off, code)
		}
	}
}

// countingDone records how often it was called and with what.
type countingDone struct {
	mu    sync.Mutex
	calls int
	err   error
	resp  kmsg.Response
	ch    chan struct{}
}

func newCountingDone() *countingDone { return &countingDone{ch: make(chan struct{}, 16)} }

func (d *countingDone) done(resp kmsg.Response, err error) {
	d.mu.Lock()
	d.calls++
	d.resp, d.err = resp, err
	d.mu.Unlock()
	d.ch <- struct{}{}
}

func (d *countingDone) wait(t *testing.T) (kmsg.Response, error) {
	t.Helper()
	select {
	case <-d.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("done never called")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.resp, d.err
}

func (d *countingDone) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func TestRequestTimeoutClosesConn(t *testing.T) {
	cluster := newCluster(t)
	c, id := leaderConn(t, cluster, nil)

	release := make(chan struct{})
	defer close(release)
	var held atomic.Bool
	cluster.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		if held.CompareAndSwap(false, true) {
			cluster.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})

	head, mid, tail := newCountingDone(), newCountingDone(), newCountingDone()
	start := time.Now()
	c.Send(produceRequest(id, -1, []byte("a")), 200*time.Millisecond, head.done)
	c.Send(produceRequest(id, -1, []byte("b")), 10*time.Second, mid.done)
	c.Send(produceRequest(id, -1, []byte("c")), 0, tail.done)

	if _, err := head.wait(t); !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("timed-out request: %v", err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 3*time.Second {
		t.Fatalf("timeout fired after %v", el)
	}
	for name, d := range map[string]*countingDone{"second": mid, "third": tail} {
		_, err := d.wait(t)
		if !errors.Is(err, ErrClosed) || errors.Is(err, ErrRequestTimeout) {
			t.Fatalf("%s request: %v; want ErrClosed only", name, err)
		}
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("conn not dead after a timeout")
	}
	if !errors.Is(c.Err(), ErrRequestTimeout) {
		t.Fatalf("Err() = %v", c.Err())
	}
	// A send on the dead conn fails at once.
	late := newCountingDone()
	c.Send(produceRequest(id, -1, []byte("d")), time.Second, late.done)
	if _, err := late.wait(t); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after death: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	for name, d := range map[string]*countingDone{"head": head, "mid": mid, "tail": tail, "late": late} {
		if n := d.count(); n != 1 {
			t.Fatalf("%s done called %d times", name, n)
		}
	}
	if c.InFlight() != 0 {
		t.Fatalf("InFlight = %d on a dead conn", c.InFlight())
	}
}

func TestBrokerClosesConnMidFlight(t *testing.T) {
	cluster := newCluster(t)
	c, id := leaderConn(t, cluster, nil)

	var seen atomic.Int32
	cluster.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if seen.Add(1) == 2 {
			return nil, errors.New("injected failure"), true
		}
		return nil, nil, false
	})
	var changes atomic.Int32
	c.set.onChange = func() { changes.Add(1) }

	ds := []*countingDone{newCountingDone(), newCountingDone(), newCountingDone()}
	for i, d := range ds {
		c.Send(produceRequest(id, -1, []byte{byte(i)}), 5*time.Second, d.done)
	}
	if resp, err := ds[0].wait(t); err != nil {
		t.Fatalf("first request: %v", err)
	} else if _, code := baseOffset(t, resp); code != 0 {
		t.Fatalf("first request code %d", code)
	}
	for i, d := range ds[1:] {
		// The broker hanging up reads as EOF, or as a reset when our third
		// request was still unread on its side.
		if _, err := d.wait(t); !errors.Is(err, ErrClosed) || !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("request %d: %v; want ErrClosed wrapping EOF or a connection reset", i+1, err)
		}
	}
	<-c.Done()
	time.Sleep(50 * time.Millisecond)
	for i, d := range ds {
		if n := d.count(); n != 1 {
			t.Fatalf("request %d done called %d times", i, n)
		}
	}
	if changes.Load() != 1 {
		t.Fatalf("OnChange called %d times on death", changes.Load())
	}
}

func TestRequestHonoursContext(t *testing.T) {
	cluster := newCluster(t)
	c, id := leaderConn(t, cluster, nil)
	release := make(chan struct{})
	var held atomic.Bool
	cluster.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		if held.CompareAndSwap(false, true) {
			cluster.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})

	// Cancel: the conn survives and the late response is dropped.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := c.Request(ctx, produceRequest(id, -1, []byte("x"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled request: %v", err)
	}
	close(release)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	resp, err := c.Request(ctx2, produceRequest(id, -1, []byte("y")))
	if err != nil {
		t.Fatalf("request after a canceled one: %v", err)
	}
	baseOffset(t, resp) // a produce response, matched to its request
	if c.InFlight() != 0 || c.Err() != nil {
		t.Fatalf("after the late response: InFlight %d, Err %v", c.InFlight(), c.Err())
	}

	// Deadline: the conn is closed, as for any timeout.
	release2 := make(chan struct{})
	defer close(release2)
	cluster.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.SleepControl(func() { <-release2 })
		return nil, nil, false
	})
	ctx3, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	if _, err := c.Request(ctx3, produceRequest(id, -1, []byte("z"))); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("request past its deadline: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("conn alive after a request deadline passed")
	}
}

func TestCloseFailsInFlight(t *testing.T) {
	cluster := newCluster(t)
	c, id := leaderConn(t, cluster, nil)
	release := make(chan struct{})
	defer close(release)
	cluster.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.SleepControl(func() { <-release })
		return nil, nil, false
	})
	d := newCountingDone()
	c.Send(produceRequest(id, -1, []byte("x")), 0, d.done)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if d.count() != 1 || !errors.Is(d.err, ErrClosed) {
		t.Fatalf("after Close: %d calls, err %v", d.count(), d.err)
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err() = %v", c.Err())
	}
	_ = c.Close() // idempotent
	select {
	case <-c.exited:
	default:
		t.Fatal("Close returned before the reader goroutine exited")
	}
}
