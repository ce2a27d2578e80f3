package metadata

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzMergeTopic parses arbitrary Metadata responses and merges each topic
// over what an earlier response said: never a panic, partitions sorted
// and unique, Available exactly the partitions with a leader, and a
// retriable topic error keeps the earlier partitions.
func FuzzMergeTopic(f *testing.F) {
	withParts := func(code int16, parts ...[3]int32) []byte {
		resp := topicResponse(testTopic, code)
		resp.Version = 12
		for _, p := range parts {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader, mp.LeaderEpoch = p[0], p[1], p[2]
			resp.Topics[0].Partitions = append(resp.Topics[0].Partitions, mp)
		}
		return resp.AppendTo(nil)
	}
	f.Add(int16(12), withParts(0, [3]int32{0, 1, 3}, [3]int32{1, -1, 2}), withParts(0, [3]int32{1, 2, 5}, [3]int32{0, 0, 2}))
	f.Add(int16(12), withParts(0, [3]int32{0, 1, 3}), withParts(kerr.LeaderNotAvailable.Code))
	f.Add(int16(12), withParts(0, [3]int32{2, 1, 3}, [3]int32{2, 0, 4}), withParts(kerr.UnknownTopicOrPartition.Code))
	f.Add(int16(7), []byte{}, []byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, version int16, before, after []byte) {
		if version < 0 || version > 13 {
			return
		}
		parse := func(b []byte) *kmsg.MetadataResponse {
			resp := kmsg.NewPtrMetadataResponse()
			resp.Version = version
			if resp.ReadFrom(b) != nil {
				return nil
			}
			return resp
		}
		now := time.Unix(1, 0)
		olds := map[string]*Topic{}
		if resp := parse(before); resp != nil {
			for i := range resp.Topics {
				rt := &resp.Topics[i]
				if rt.Topic != nil {
					olds[*rt.Topic] = mergeTopic(rt, *rt.Topic, nil, now)
				}
			}
		}
		resp := parse(after)
		if resp == nil {
			return
		}
		for i := range resp.Topics {
			rt := &resp.Topics[i]
			if rt.Topic == nil {
				continue
			}
			old := olds[*rt.Topic]
			topic := mergeTopic(rt, *rt.Topic, old, now.Add(time.Second))
			var avail []int32
			for j, p := range topic.Partitions {
				if j > 0 && topic.Partitions[j-1].ID >= p.ID {
					t.Fatalf("partitions out of order: %+v", topic.Partitions)
				}
				if p.Leader < -1 || p.LeaderEpoch < -1 {
					t.Fatalf("partition %+v", p)
				}
				if p.Leader >= 0 {
					avail = append(avail, p.ID)
				}
			}
			if !slices.Equal(avail, topic.Available) {
				t.Fatalf("available %v; partitions %+v", topic.Available, topic.Partitions)
			}
			if topic.Err != nil && kerr.IsRetriable(topic.Err) && old != nil && len(old.Partitions) > 0 &&
				!slices.Equal(topic.Partitions, old.Partitions) {
				t.Fatal("a retriable error dropped the known partitions")
			}
		}
	})
}

// BenchmarkTopic is the per-record lookup.
func BenchmarkTopic(b *testing.B) {
	c := &Client{}
	snap := map[string]*Topic{}
	for _, name := range []string{"orders", "payments", "events", testTopic} {
		snap[name] = &Topic{Name: name}
	}
	c.snap.Store(&snap)
	name := string([]byte("payments"))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if c.Topic(name) == nil {
			b.Fatal("missing")
		}
	}
}
