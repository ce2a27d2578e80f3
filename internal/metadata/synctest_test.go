package metadata

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// pipeBroker is a one-node cluster on net.Pipe that serves ApiVersions
// and Metadata (topic "t", 3 partitions), so refresh timing can be checked
// exactly in a synctest bubble.
type pipeBroker struct {
	mu       sync.Mutex
	requests []time.Time // when each Metadata request arrived
	topics   [][]string  // the topics each Metadata request named
}

func (b *pipeBroker) dial(context.Context, string, string) (net.Conn, error) {
	client, server := net.Pipe()
	go b.serve(server)
	return client, nil
}

func (b *pipeBroker) times() []time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Time(nil), b.requests...)
}

// lastTopics returns the topics of the latest Metadata request.
func (b *pipeBroker) lastTopics() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.topics) == 0 {
		return nil
	}
	return b.topics[len(b.topics)-1]
}

func (b *pipeBroker) serve(nc net.Conn) {
	defer nc.Close()
	var size [4]byte
	for {
		if _, err := io.ReadFull(nc, size[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(nc, frame); err != nil {
			return
		}
		r := kbin.Reader{Src: frame}
		key, version, corr := r.Int16(), r.Int16(), r.Int32()
		r.NullableString()
		req := kmsg.RequestForKey(key)
		req.SetVersion(version)
		if req.IsFlexible() {
			kmsg.SkipTags(&r)
		}
		if err := req.ReadFrom(r.Src); err != nil {
			return
		}
		var resp kmsg.Response
		switch req := req.(type) {
		case *kmsg.ApiVersionsRequest:
			av := kmsg.NewPtrApiVersionsResponse()
			for _, k := range []kmsg.Request{kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest()} {
				ak := kmsg.NewApiVersionsResponseApiKey()
				ak.ApiKey, ak.MaxVersion = k.Key(), k.MaxVersion()
				av.ApiKeys = append(av.ApiKeys, ak)
			}
			resp = av
		case *kmsg.MetadataRequest:
			b.mu.Lock()
			b.requests = append(b.requests, time.Now())
			var names []string
			for _, rt := range req.Topics {
				names = append(names, *rt.Topic)
			}
			b.topics = append(b.topics, names)
			b.mu.Unlock()
			md := kmsg.NewPtrMetadataResponse()
			br := kmsg.NewMetadataResponseBroker()
			br.NodeID, br.Host, br.Port = 0, "broker", 9092
			md.Brokers = append(md.Brokers, br)
			for _, rt := range req.Topics {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				for p := range int32(3) {
					mp := kmsg.NewMetadataResponseTopicPartition()
					mp.Partition = p
					mt.Partitions = append(mt.Partitions, mp)
				}
				md.Topics = append(md.Topics, mt)
			}
			resp = md
		default:
			return
		}
		resp.SetVersion(version)
		out := binary.BigEndian.AppendUint32(nil, 0)
		out = binary.BigEndian.AppendUint32(out, uint32(corr))
		if resp.IsFlexible() && key != kmsg.ApiVersions.Int16() {
			out = append(out, 0)
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
}

// pipeClient is a metadata client with cfg on a pool whose only broker is a
// pipeBroker; both are closed when the test ends.
func pipeClient(t *testing.T, cfg Config) (*Client, *pipeBroker) {
	t.Helper()
	broker := &pipeBroker{}
	pool, err := wire.NewPool(&wire.Config{Dial: broker.dial}, []string{"broker:9092"})
	if err != nil {
		t.Fatal(err)
	}
	c := New(pool, cfg)
	t.Cleanup(pool.Close)
	t.Cleanup(c.Close)
	return c, broker
}

func TestRefreshTimingExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxAge, minInterval = time.Minute, 100 * time.Millisecond
		c, broker := pipeClient(t, Config{MaxAge: maxAge, MinInterval: minInterval})
		start := time.Now()

		if _, err := c.Wait(context.Background(), testTopic); err != nil {
			t.Fatal(err)
		}
		expect := func(n int, what string) {
			t.Helper()
			synctest.Wait()
			if got := len(broker.times()); got != n {
				t.Fatalf("%s: %d metadata requests; want %d", what, got, n)
			}
		}
		expect(1, "after Wait")

		// A storm of triggers right after a refresh: one refresh, exactly
		// MinInterval after the previous one started.
		for range 10 {
			c.Trigger("storm")
		}
		time.Sleep(minInterval - time.Nanosecond)
		expect(1, "just before MinInterval")
		time.Sleep(time.Nanosecond)
		expect(2, "at MinInterval")
		time.Sleep(minInterval)
		expect(2, "with no new trigger")

		// Nothing asked: the next refresh comes MaxAge after the last.
		last := broker.times()[1]
		time.Sleep(time.Until(last.Add(maxAge)) - time.Nanosecond)
		expect(2, "just before MaxAge")
		time.Sleep(time.Nanosecond)
		expect(3, "at MaxAge")
		if got := broker.times()[2].Sub(start); got != minInterval+maxAge {
			t.Fatalf("age refresh at %v; want %v", got, minInterval+maxAge)
		}
	})
}
