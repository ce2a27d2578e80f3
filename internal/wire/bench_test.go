package wire

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// cannedBroker answers every request after the handshake with the same
// produce response, patching in the correlation id (or, when silent, with
// nothing); it allocates nothing per request, so benchmarks measure the
// client alone.
func cannedBroker(nc net.Conn, silent bool) {
	defer nc.Close()
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 9
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic = testTopic
	rp := kmsg.NewProduceResponseTopicPartition()
	rp.BaseOffset = 42
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	canned := binary.BigEndian.AppendUint32(nil, 0) // size
	canned = binary.BigEndian.AppendUint32(canned, 0)
	canned = append(canned, 0) // header tags
	canned = resp.AppendTo(canned)
	binary.BigEndian.PutUint32(canned, uint32(len(canned)-4))

	var size [4]byte
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(nc, size[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if n > len(buf) {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(nc, buf[:n]); err != nil {
			return
		}
		key := int16(binary.BigEndian.Uint16(buf))
		corr := buf[4:8]
		if key == kmsg.ApiVersions.Int16() {
			req, c, _ := parseRequest(buf[:n])
			frame := respond(c, allVersions(req.GetVersion()))
			out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
			if _, err := nc.Write(append(out, frame...)); err != nil {
				return
			}
			continue
		}
		if silent {
			continue
		}
		copy(canned[4:8], corr)
		if _, err := nc.Write(canned); err != nil {
			return
		}
	}
}

func cannedConn(b *testing.B, silent bool) *Conn {
	b.Helper()
	c, err := Dial(context.Background(), "broker:9092", &Config{
		Dial: func(context.Context, string, string) (net.Conn, error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			defer ln.Close()
			go func() {
				sc, err := ln.Accept()
				if err == nil {
					cannedBroker(sc, silent)
				}
			}()
			return net.Dial("tcp", ln.Addr().String())
		},
		MaxVersions: produceV9(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// produceV9 pins Produce at v9, which names topics (v13 uses ids).
func produceV9() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(kmsg.Produce.Int16(), 9)
	return v
}

// BenchmarkSendRoundTrip sends a small produce request and waits for its
// response, one at a time, over loopback TCP to a canned broker.
func BenchmarkSendRoundTrip(b *testing.B) {
	c := cannedConn(b, false)
	req := produceRequest([16]byte{}, -1, []byte("value"))
	got := make(chan error, 1)
	done := func(_ kmsg.Response, err error) { got <- err }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Send(req, time.Minute, done)
		if err := <-got; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendPipelined keeps five produce requests in flight, as the
// sender does with max.in.flight.requests.per.connection = 5.
func BenchmarkSendPipelined(b *testing.B) {
	c := cannedConn(b, false)
	req := produceRequest([16]byte{}, -1, []byte("value"))
	const window = 5
	slots := make(chan struct{}, window)
	done := func(_ kmsg.Response, err error) {
		if err != nil {
			b.Error(err)
		}
		<-slots
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		slots <- struct{}{}
		c.Send(req, time.Minute, done)
	}
	for range window {
		slots <- struct{}{}
	}
}

// BenchmarkSendAcksZero measures the write path alone: acks=0 produce
// requests get no response.
func BenchmarkSendAcksZero(b *testing.B) {
	c := cannedConn(b, true)
	req := produceRequest([16]byte{}, 0, []byte("value"))
	done := func(_ kmsg.Response, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Send(req, time.Minute, done)
	}
}

// BenchmarkSendRoundTripKfake is the round trip against the in-process
// cluster; its allocations include the fake broker's own.
func BenchmarkSendRoundTripKfake(b *testing.B) {
	cluster := newCluster(b)
	c, id := leaderConn(b, cluster, nil)
	req := produceRequest(id, -1, []byte("value"))
	got := make(chan error, 1)
	done := func(_ kmsg.Response, err error) { got <- err }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Send(req, time.Minute, done)
		if err := <-got; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPoolReady is the sender's per-drain readiness check.
func BenchmarkPoolReady(b *testing.B) {
	p, err := NewPool(&Config{Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go cannedBroker(server, false)
		return client, nil
	}}, []string{"seed:9092"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	p.SetBrokers(map[int32]string{1: "broker:9092"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Conn(ctx, 1, Produce); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := p.Ready(1, Produce); err != nil {
			b.Fatal(err)
		}
	}
}
