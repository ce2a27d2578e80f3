package producer

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceMaxVersion is the newest Produce version kmsg can encode.
var produceMaxVersion = (&kmsg.ProduceResponse{}).MaxVersion()

// randomProduceResponse builds a response of version v with what a broker
// may put in it, errors and tagged fields included.
func randomProduceResponse(rng *rand.Rand, v int16) *kmsg.ProduceResponse {
	r := kmsg.NewPtrProduceResponse()
	r.Version = v
	r.ThrottleMillis = rng.Int32N(1000)
	str := func() *string {
		if rng.IntN(3) == 0 {
			return nil
		}
		s := fmt.Sprintf("msg-%d", rng.IntN(100))
		return &s
	}
	for range rng.IntN(4) {
		t := kmsg.NewProduceResponseTopic()
		t.Topic = fmt.Sprintf("topic-%d", rng.IntN(5))
		t.TopicID[rng.IntN(16)] = byte(rng.Uint32())
		for range rng.IntN(5) {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition = rng.Int32N(12)
			p.ErrorCode = int16(rng.IntN(3) * 6)
			p.BaseOffset = rng.Int64N(1 << 40)
			p.LogAppendTime = rng.Int64N(1<<41) - 1
			p.LogStartOffset = rng.Int64N(1 << 30)
			for range rng.IntN(3) {
				p.ErrorRecords = append(p.ErrorRecords, kmsg.ProduceResponseTopicPartitionErrorRecord{RelativeOffset: rng.Int32N(100), ErrorMessage: str()})
			}
			p.ErrorMessage = str()
			if rng.IntN(2) == 0 {
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = rng.Int32N(3), rng.Int32N(50)
			}
			t.Partitions = append(t.Partitions, p)
		}
		r.Topics = append(r.Topics, t)
	}
	for range rng.IntN(3) {
		r.Brokers = append(r.Brokers, kmsg.ProduceResponseBroker{NodeID: rng.Int32N(3), Host: "127.0.0.1", Port: rng.Int32N(65536), Rack: str()})
	}
	return r
}

// normalProduceResponse is the part of a response the producer reads, with
// nil and empty slices alike and unknown tags left out, so the two
// decoders' results compare with reflect.DeepEqual.
func normalProduceResponse(r *kmsg.ProduceResponse) any {
	type part struct {
		Partition                              int32
		ErrorCode                              int16
		BaseOffset, LogAppendTime, LogStartOff int64
		Records                                []string
		Message                                string
		LeaderID, LeaderEpoch                  int32
	}
	type topic struct {
		Name  string
		ID    [16]byte
		Parts []part
	}
	str := func(s *string) string {
		if s == nil {
			return "<nil>"
		}
		return "=" + *s
	}
	var out struct {
		Topics   []topic
		Throttle int32
		Brokers  []string
	}
	for _, t := range r.Topics {
		nt := topic{Name: t.Topic, ID: t.TopicID}
		for _, p := range t.Partitions {
			np := part{p.Partition, p.ErrorCode, p.BaseOffset, p.LogAppendTime, p.LogStartOffset, nil, str(p.ErrorMessage), p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch}
			for _, e := range p.ErrorRecords {
				np.Records = append(np.Records, fmt.Sprint(e.RelativeOffset, str(e.ErrorMessage)))
			}
			nt.Parts = append(nt.Parts, np)
		}
		out.Topics = append(out.Topics, nt)
	}
	out.Throttle = r.ThrottleMillis
	for _, b := range r.Brokers {
		out.Brokers = append(out.Brokers, fmt.Sprint(b.NodeID, b.Host, b.Port, str(b.Rack)))
	}
	return out
}

// decodeBoth decodes body as a version-v answer with kmsg and with into (a
// response reused across calls) and reports whether each succeeded.
func decodeBoth(into *produceResponse, v int16, body []byte) (want *kmsg.ProduceResponse, wantErr, gotErr error) {
	want = kmsg.NewPtrProduceResponse()
	want.Version = v
	wantErr = want.ReadFrom(body)
	into.Version = v
	gotErr = into.ReadFrom(body)
	return want, wantErr, gotErr
}

// TestProduceResponseMatchesKmsg decodes random answers of every version
// into one reused produceResponse: each decodes to what kmsg decodes, with
// nothing left over from the answer before it (versions and shapes vary
// from one to the next).
func TestProduceResponseMatchesKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var into produceResponse
	for i := range 3000 {
		v := int16(rng.IntN(int(produceMaxVersion) + 1))
		body := randomProduceResponse(rng, v).AppendTo(nil)
		want, wantErr, gotErr := decodeBoth(&into, v, body)
		if wantErr != nil || gotErr != nil {
			t.Fatalf("answer %d (v%d): kmsg error %v, ours %v", i, v, wantErr, gotErr)
		}
		if w, g := normalProduceResponse(want), normalProduceResponse(&into.ProduceResponse); !reflect.DeepEqual(w, g) {
			t.Fatalf("answer %d (v%d) decoded differently:\nkmsg %+v\nours %+v", i, v, w, g)
		}
	}
}

// TestProduceResponseTopicNamesFromRequest: an answer's topic names are the
// request's strings (no copy), and a name the request lacks still decodes.
func TestProduceResponseTopicNamesFromRequest(t *testing.T) {
	req := kmsg.NewPtrProduceRequest()
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders"}}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 9
	resp.Topics = []kmsg.ProduceResponseTopic{{Topic: "orders"}, {Topic: "other"}}
	into := produceResponse{req: req}
	into.Version = 9
	if err := into.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	if got := into.Topics[0].Topic; got != "orders" || unsafe.StringData(got) != unsafe.StringData(req.Topics[0].Topic) {
		t.Errorf("topic 0 is %q, not the request's string", got)
	}
	if got := into.Topics[1].Topic; got != "other" {
		t.Errorf("topic 1 is %q", got)
	}
}

// TestProduceResponseDecodesWithoutAllocating: a steady stream of answers
// (three partitions of one topic, v13 and v9) allocates nothing once the
// response has been used.
func TestProduceResponseDecodesWithoutAllocating(t *testing.T) {
	for _, v := range []int16{9, 13} {
		req := kmsg.NewPtrProduceRequest()
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: "bench"}}
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = v
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = "bench"
		for p := range int32(3) {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.BaseOffset = p, int64(p)*1000
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
		body := resp.AppendTo(nil)
		into := produceResponse{req: req}
		into.Version = v
		if err := into.ReadFrom(body); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = into.ReadFrom(body) }); n != 0 {
			t.Errorf("v%d: %v allocations per decode, want 0", v, n)
		}
	}
}

// FuzzProduceResponse feeds arbitrary bodies to both decoders: ours never
// panics, and whenever kmsg accepts a body ours accepts it and reads the
// same answer. The response is reused across inputs, as the producer does.
func FuzzProduceResponse(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for v := int16(0); v <= produceMaxVersion; v++ {
		f.Add(byte(v), randomProduceResponse(rng, v).AppendTo(nil))
	}
	var into produceResponse
	f.Fuzz(func(t *testing.T, version byte, body []byte) {
		v := int16(version) % (produceMaxVersion + 1)
		want, wantErr, gotErr := decodeBoth(&into, v, body)
		if wantErr != nil {
			return
		}
		if gotErr != nil {
			t.Fatalf("v%d: kmsg decodes the body, ours fails: %v", v, gotErr)
		}
		if w, g := normalProduceResponse(want), normalProduceResponse(&into.ProduceResponse); !reflect.DeepEqual(w, g) {
			t.Fatalf("v%d decoded differently:\nkmsg %+v\nours %+v", v, w, g)
		}
	})
}
