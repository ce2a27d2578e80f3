package metadata

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzTopic decodes a topic entry from fuzz bytes: a topic error code
// byte, then 10-byte partitions (id, leader and epoch as signed 3-byte
// big-endian values, and an error code byte).
func fuzzTopic(in []byte) *kmsg.MetadataResponseTopic {
	rt := kmsg.NewMetadataResponseTopic()
	rt.Topic = kmsg.StringPtr(testTopic)
	if len(in) == 0 {
		return &rt
	}
	rt.ErrorCode, in = int16(int8(in[0])), in[1:]
	i24 := func(b []byte) int32 { return int32(b[0])<<24>>8 | int32(b[1])<<8 | int32(b[2]) }
	for ; len(in) >= 10; in = in[10:] {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition, p.Leader, p.LeaderEpoch = i24(in), i24(in[3:]), i24(in[6:])
		p.ErrorCode = int16(int8(in[9]))
		rt.Partitions = append(rt.Partitions, p)
	}
	return &rt
}

// FuzzMergeTopic merges arbitrary topic entries over arbitrary earlier
// ones: never a panic, partitions sorted and unique, no negative ids below
// -1 for leaders and epochs, Available exactly the partitions with a
// leader, a retriable topic error keeps the earlier partitions, and a
// partition never moves back to an older leader epoch.
func FuzzMergeTopic(f *testing.F) {
	part := func(id, leader, epoch int32, code int8) []byte {
		b := []byte{}
		for _, v := range []int32{id, leader, epoch} {
			b = append(b, byte(v>>16), byte(v>>8), byte(v))
		}
		return append(b, byte(code))
	}
	cat := func(code int8, parts ...[]byte) []byte {
		out := []byte{byte(code)}
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	f.Add(cat(0, part(0, 1, 3, 0), part(1, -1, 2, 5)), cat(0, part(1, 2, 5, 0), part(0, 0, 2, 0)))
	f.Add(cat(0, part(0, 1, 3, 0)), cat(5)) // LEADER_NOT_AVAILABLE keeps partitions
	f.Add(cat(0, part(2, 1, 3, 0), part(2, 0, 4, 0)), cat(3, part(0, 1, 1, 0)))
	f.Add([]byte{}, cat(29)) // authorization failed
	f.Add(cat(0, part(0, 4, -1, 0)), cat(0, part(0, 3, -1, 0), part(-5, -9, -9, 0)))
	f.Fuzz(func(t *testing.T, before, after []byte) {
		now := time.Unix(1, 0)
		old := mergeTopic(fuzzTopic(before), testTopic, nil, now)
		topic := mergeTopic(fuzzTopic(after), testTopic, old, now.Add(time.Second))
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
			if prev, ok := old.partition(p.ID); ok && p.LeaderEpoch >= 0 && p.LeaderEpoch < prev.LeaderEpoch {
				t.Fatalf("partition %d went back from epoch %d to %d", p.ID, prev.LeaderEpoch, p.LeaderEpoch)
			}
		}
		if !slices.Equal(avail, topic.Available) {
			t.Fatalf("available %v; partitions %+v", topic.Available, topic.Partitions)
		}
		if topic.Err != nil && kerr.IsRetriable(topic.Err) && len(old.Partitions) > 0 &&
			!slices.Equal(topic.Partitions, old.Partitions) {
			t.Fatal("a retriable error dropped the known partitions")
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
