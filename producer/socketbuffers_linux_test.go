package producer

import (
	"context"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestSocketBufferProperties: send.buffer.bytes and receive.buffer.bytes
// set the kernel buffers of broker connections (Linux reports twice the
// size asked for, its bookkeeping included).
func TestSocketBufferProperties(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "bufs"))
	var mu sync.Mutex
	var conns []*net.TCPConn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, conn.(*net.TCPConn))
			mu.Unlock()
		}
		return conn, err
	}
	p := newTestProducer(t, c, WithDialer(dial),
		WithProperties(map[string]string{"send.buffer.bytes": "65536", "receive.buffer.bytes": "98304"}))
	if _, err := p.SendSync(ctxTimeout(t, 10*time.Second), &Record{Topic: "bufs", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) == 0 {
		t.Fatal("no connection dialed")
	}
	for _, conn := range conns {
		raw, err := conn.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var snd, rcv int
		var gerr error
		if err := raw.Control(func(fd uintptr) {
			if snd, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF); gerr != nil {
				return
			}
			rcv, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		}); err != nil || gerr != nil {
			continue // closed meanwhile
		}
		if snd != 2*65536 || rcv != 2*98304 {
			t.Fatalf("SO_SNDBUF %d, SO_RCVBUF %d; want twice 65536 and 98304", snd, rcv)
		}
	}
}
