package kafkatest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeBatch encodes a batch header (with no records) as kmsg does.
func encodeBatch(b Batch) []byte {
	rb := kmsg.RecordBatch{
		FirstOffset:          b.BaseOffset,
		PartitionLeaderEpoch: b.LeaderEpoch,
		Magic:                2,
		Attributes:           int16(b.Codec),
		LastOffsetDelta:      b.Records - 1,
		ProducerID:           b.ProducerID,
		ProducerEpoch:        b.ProducerEpoch,
		FirstSequence:        b.BaseSequence,
		NumRecords:           b.Records,
	}
	if b.Transactional {
		rb.Attributes |= 0x10
	}
	if b.Control {
		rb.Attributes |= 0x20
	}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12) // the bytes after the length field
	return rb.AppendTo(nil)
}

func TestDecodeBatches(t *testing.T) {
	want := []Batch{
		{BaseOffset: 0, Records: 3, ProducerID: 7, ProducerEpoch: 0, BaseSequence: 0, LeaderEpoch: 1, Codec: 4},
		{BaseOffset: 3, Records: 2, ProducerID: 7, ProducerEpoch: 0, BaseSequence: 3, Transactional: true, LeaderEpoch: 1},
		{BaseOffset: 5, Records: 1, ProducerID: 7, ProducerEpoch: 0, BaseSequence: -1, Transactional: true, Control: true, LeaderEpoch: 2},
	}
	var raw []byte
	for _, b := range want {
		raw = append(raw, encodeBatch(b)...)
	}
	// A fetch answer may end inside a batch: that one is left out.
	cut := encodeBatch(Batch{BaseOffset: 6, Records: 4, ProducerID: 7})
	got, err := decodeBatches(append(raw, cut[:len(cut)-5]...))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

func TestCheckSequences(t *testing.T) {
	ok := []Batch{
		{BaseOffset: 0, Records: 3, ProducerID: 1, BaseSequence: 0},
		{BaseOffset: 3, Records: 2, ProducerID: 2, BaseSequence: 0},
		{BaseOffset: 5, Records: 1, ProducerID: 1, BaseSequence: 3},
		{BaseOffset: 6, Records: 1, ProducerID: 1, BaseSequence: -1, Control: true},
		{BaseOffset: 7, Records: 4, ProducerID: 1, ProducerEpoch: 1, BaseSequence: 0}, // a new epoch starts at 0
		{BaseOffset: 11, Records: 2, ProducerID: -1, BaseSequence: -1},                // not idempotent
	}
	if msg := CheckSequences(ok); msg != "" {
		t.Fatalf("%s", msg)
	}
	for name, bad := range map[string][]Batch{
		"gap":       {{Records: 2, ProducerID: 1}, {BaseOffset: 2, Records: 1, ProducerID: 1, BaseSequence: 3}},
		"overlap":   {{Records: 2, ProducerID: 1}, {BaseOffset: 2, Records: 1, ProducerID: 1, BaseSequence: 1}},
		"not at 0":  {{Records: 2, ProducerID: 1, BaseSequence: 5}},
		"new epoch": {{Records: 2, ProducerID: 1}, {BaseOffset: 2, Records: 1, ProducerID: 1, ProducerEpoch: 1, BaseSequence: 2}},
	} {
		if msg := CheckSequences(bad); msg == "" {
			t.Errorf("%s: not caught", name)
		}
	}
}

// TestRequestLog writes request frames through a logged connection in
// pieces of random sizes and checks every header was read.
func TestRequestLog(t *testing.T) {
	var stream []byte
	want := map[int16][]int16{}
	var reqs []kmsg.Request
	for i, r := range []kmsg.Request{kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(), kmsg.NewPtrProduceRequest(), kmsg.NewPtrEndTxnRequest(), kmsg.NewPtrProduceRequest()} {
		r.SetVersion(int16(i % 4))
		reqs = append(reqs, r)
	}
	for _, r := range reqs {
		body := r.AppendTo(nil)
		frame := make([]byte, 4, 8+len(body))
		size := 4 + len(body)
		frame[0], frame[1], frame[2], frame[3] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
		frame = append(frame, byte(r.Key()>>8), byte(r.Key()), byte(r.GetVersion()>>8), byte(r.GetVersion()))
		stream = append(stream, append(frame, body...)...)
		want[r.Key()] = append(want[r.Key()], r.GetVersion())
	}
	for seed := range uint64(20) {
		var l RequestLog
		client, server := net.Pipe()
		c := &loggedConn{Conn: client, log: &l}
		done := make(chan struct{})
		go func() {
			buf := make([]byte, 1<<16)
			for {
				if _, err := server.Read(buf); err != nil {
					close(done)
					return
				}
			}
		}()
		rng := rand.New(rand.NewPCG(seed, 1))
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(12))
			if _, err := c.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		c.Close()
		<-done
		got := l.Versions()
		for k, vs := range want {
			if !reflect.DeepEqual(got[k], dedupSorted(vs)) {
				t.Fatalf("seed %d: key %d sent at %v, want %v (log: %v)", seed, k, got[k], vs, &l)
			}
		}
		if l.Count(0) != 2 || !strings.Contains(l.String(), "Produce v") {
			t.Fatalf("seed %d: %d produce requests counted (%v)", seed, l.Count(0), &l)
		}
	}
}

func dedupSorted(vs []int16) []int16 {
	vs = slices.Sorted(slices.Values(vs))
	var out []int16
	for _, v := range vs {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// numberingBroker listens for one connection and answers each request
// frame on it with a frame holding the request's sequence number (0, 1,
// ...), as soon as the request arrived; it returns the address.
func numberingBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var head [8]byte
		for i := byte(0); ; i++ {
			if _, err := io.ReadFull(c, head[:]); err != nil {
				return
			}
			size := int(binary.BigEndian.Uint32(head[:4]))
			if _, err := io.CopyN(io.Discard, c, int64(size-4)); err != nil {
				return
			}
			if _, err := c.Write([]byte{0, 0, 0, 1, i}); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

// requestFrame is a request frame of key with a 2-byte body.
func requestFrame(key int16) []byte {
	return []byte{0, 0, 0, 6, byte(key >> 8), byte(key), 0, 9, 0xaa, 0xbb}
}

// TestLossyDialer: the third Produce's answer must never reach the client,
// every answer before it must, and the connection must end there.
func TestLossyDialer(t *testing.T) {
	d := &LossyDialer{Key: 0, Every: 3}
	c, err := d.Dial(context.Background(), "tcp", numberingBroker(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Produce, Metadata, Produce, Produce (lost), Produce.
	for _, key := range []int16{0, 3, 0, 0, 0} {
		if _, err := c.Write(requestFrame(key)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := io.ReadAll(c)
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read ended with %v, want net.ErrClosed", err)
	}
	want := []byte{0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 2}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %v, want the first three answers %v", got, want)
	}
	if d.Dropped() != 1 {
		t.Fatalf("%d answers dropped, want 1", d.Dropped())
	}
}

// TestLossyDialerArm: with Every unset, answers of Key pass until Arm; the
// next request of Key then loses its answer. A reader waits on the
// connection all along, as a client's does, so the broker's answer may
// come before Write returns.
func TestLossyDialerArm(t *testing.T) {
	for range 50 {
		d := &LossyDialer{Key: int16(kmsg.EndTxn)}
		c, err := d.Dial(context.Background(), "tcp", numberingBroker(t))
		if err != nil {
			t.Fatal(err)
		}
		type answer struct {
			b   []byte
			err error
		}
		answers := make(chan answer, 4)
		go func() {
			for {
				b := make([]byte, 5)
				_, err := io.ReadFull(c, b)
				answers <- answer{b, err}
				if err != nil {
					return
				}
			}
		}()
		for i, key := range []int16{int16(kmsg.EndTxn), int16(kmsg.Metadata), int16(kmsg.EndTxn)} {
			if i == 2 {
				d.Arm()
			}
			if _, err := c.Write(requestFrame(key)); err != nil {
				t.Fatal(err)
			}
			a := <-answers
			if i < 2 {
				if a.err != nil || a.b[4] != byte(i) {
					t.Fatalf("request %d (key %d): answer %v, %v", i, key, a.b, a.err)
				}
				continue
			}
			if !errors.Is(a.err, net.ErrClosed) {
				t.Fatalf("the armed EndTxn: answer %v, %v; want it lost (net.ErrClosed)", a.b, a.err)
			}
		}
		if d.Dropped() != 1 {
			t.Fatalf("%d answers dropped, want 1", d.Dropped())
		}
		c.Close()
	}
}
