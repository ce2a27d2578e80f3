package producer

import (
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/wire"
)

// produceResponse is a kmsg.ProduceResponse whose ReadFrom reuses what the
// previous answer decoded into it: the topic and partition slices keep their
// arrays, and topic names are the request's own strings. A steady stream of
// produce answers then decodes without allocating (kmsg's own ReadFrom
// zeroes the topic entries, so every answer allocated its partition slices
// and names). Only what is rare allocates: error messages, per-record errors
// and the leader endpoints a NOT_LEADER answer carries.
//
// Every field kmsg decodes is set, so nothing of an earlier answer
// survives; unknown tagged fields are skipped, not kept.
type produceResponse struct {
	kmsg.ProduceResponse
	req *kmsg.ProduceRequest // its topic names are reused; set before sending
}

// ReadFrom decodes a produce response body of r's version.
func (r *produceResponse) ReadFrom(src []byte) error {
	b := kbin.Reader{Src: src}
	version := r.Version
	flexible := version >= 9
	resp := &r.ProduceResponse
	resp.ThrottleMillis = 0
	resp.Brokers = resp.Brokers[:0]
	resp.UnknownTags = kmsg.Tags{}

	n := arrayLen(&b, flexible)
	resp.Topics = grow(resp.Topics, n)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		t.Topic, t.TopicID, t.UnknownTags = "", [16]byte{}, kmsg.Tags{}
		if version <= 12 {
			t.Topic = r.topicName(stringBytes(&b, flexible))
		} else {
			t.TopicID = b.Uuid()
		}
		np := arrayLen(&b, flexible)
		t.Partitions = grow(t.Partitions, np)
		for j := range t.Partitions {
			readProducePartition(&b, &t.Partitions[j], version)
		}
		if flexible {
			wire.SkipTags(&b)
		}
	}
	if version >= 1 {
		resp.ThrottleMillis = b.Int32()
	}
	if flexible {
		for k := b.Uvarint(); k > 0 && b.Ok(); k-- {
			key := b.Uvarint()
			field := kbin.Reader{Src: b.Span(int(b.Uvarint()))}
			if key != 0 {
				continue
			}
			readProduceBrokers(&field, resp)
			if err := field.Complete(); err != nil {
				return err
			}
		}
	}
	return b.Complete()
}

// readProducePartition decodes one partition's answer into p, overwriting
// every field.
func readProducePartition(b *kbin.Reader, p *kmsg.ProduceResponseTopicPartition, version int16) {
	flexible := version >= 9
	records := p.ErrorRecords[:0]
	*p = kmsg.ProduceResponseTopicPartition{LogAppendTime: -1, LogStartOffset: -1}
	p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = -1, -1
	p.Partition = b.Int32()
	p.ErrorCode = b.Int16()
	p.BaseOffset = b.Int64()
	if version >= 2 {
		p.LogAppendTime = b.Int64()
	}
	if version >= 5 {
		p.LogStartOffset = b.Int64()
	}
	if version >= 8 {
		n := arrayLen(b, flexible)
		for range max(n, 0) {
			var e kmsg.ProduceResponseTopicPartitionErrorRecord
			e.RelativeOffset = b.Int32()
			e.ErrorMessage = nullableString(b, flexible)
			if flexible {
				wire.SkipTags(b)
			}
			if !b.Ok() {
				return
			}
			records = append(records, e)
		}
		if n >= 0 {
			p.ErrorRecords = records
		}
		p.ErrorMessage = nullableString(b, flexible)
	}
	if !flexible {
		return
	}
	for k := b.Uvarint(); k > 0 && b.Ok(); k-- {
		key := b.Uvarint()
		field := kbin.Reader{Src: b.Span(int(b.Uvarint()))}
		if key != 0 {
			continue
		}
		p.CurrentLeader.LeaderID = field.Int32()
		p.CurrentLeader.LeaderEpoch = field.Int32()
		wire.SkipTags(&field)
		if field.Complete() != nil {
			b.Span(-1) // fails b: the tag's body was malformed
			return
		}
	}
}

// readProduceBrokers decodes the leader endpoints of a v10+ answer (tag 0).
func readProduceBrokers(b *kbin.Reader, resp *kmsg.ProduceResponse) {
	n := b.CompactArrayLen()
	resp.Brokers = resp.Brokers[:0]
	for range max(n, 0) {
		var br kmsg.ProduceResponseBroker
		br.NodeID = b.Int32()
		br.Host = b.CompactString()
		br.Port = b.Int32()
		br.Rack = b.CompactNullableString()
		wire.SkipTags(b)
		if !b.Ok() {
			return
		}
		resp.Brokers = append(resp.Brokers, br)
	}
	if n < 0 {
		resp.Brokers = nil
	}
}

// topicName is the request's copy of a topic name when it has one, so the
// answer's names need no allocation.
func (r *produceResponse) topicName(name []byte) string {
	if r.req != nil {
		for i := range r.req.Topics {
			if t := r.req.Topics[i].Topic; t == string(name) {
				return t
			}
		}
	}
	return string(name)
}

// grow returns s resized to n elements (none when n < 0), keeping the
// elements' own slices from earlier use so that they can be reused too.
func grow[T any](s []T, n int32) []T {
	if n <= 0 {
		return s[:0]
	}
	if int(n) > cap(s) {
		s = append(s[:cap(s)], make([]T, int(n)-cap(s))...)
	}
	return s[:n]
}

// arrayLen reads an array length; a null array reads as -1.
func arrayLen(b *kbin.Reader, flexible bool) int32 {
	if flexible {
		return b.CompactArrayLen()
	}
	return b.ArrayLen()
}

// stringBytes reads a (compact) string without copying it.
func stringBytes(b *kbin.Reader, flexible bool) []byte {
	var l int
	if flexible {
		l = int(b.Uvarint()) - 1
	} else {
		l = int(b.Int16())
	}
	return b.Span(l)
}

// nullableString reads a (compact) nullable string, allocating only when
// it is not null.
func nullableString(b *kbin.Reader, flexible bool) *string {
	if flexible {
		return b.CompactNullableString()
	}
	return b.NullableString()
}
