package producer

import (
	"context"
	"encoding/json"
	"time"
)

// Serializer turns a typed key or value into bytes (Java Serializer). A
// serializer error fails the record before it reaches a batch.
type Serializer[T any] interface {
	Serialize(topic string, v T) ([]byte, error)
}

// SerializerFunc adapts a function to Serializer.
type SerializerFunc[T any] func(topic string, v T) ([]byte, error)

// Serialize calls f.
func (f SerializerFunc[T]) Serialize(topic string, v T) ([]byte, error) { return f(topic, v) }

// StringSerializer writes a string's bytes (Java StringSerializer).
type StringSerializer struct{}

// Serialize returns v's bytes.
func (StringSerializer) Serialize(_ string, v string) ([]byte, error) { return []byte(v), nil }

// BytesSerializer passes bytes through (Java ByteArraySerializer); nil stays null.
type BytesSerializer struct{}

// Serialize returns v.
func (BytesSerializer) Serialize(_ string, v []byte) ([]byte, error) { return v, nil }

// JSONSerializer encodes values with encoding/json.
type JSONSerializer[T any] struct{}

// Serialize returns v as JSON.
func (JSONSerializer[T]) Serialize(_ string, v T) ([]byte, error) { return json.Marshal(v) }

// TypedRecord is a Record with a typed key and value. NullKey makes the key
// null (so the partitioner treats the record as unkeyed) whatever Key holds.
type TypedRecord[K, V any] struct {
	Topic        string
	Key          K
	NullKey      bool
	Value        V
	Headers      []Header
	Timestamp    time.Time
	Partition    int32
	PinPartition bool
}

// Typed is a front end that serializes typed records and sends them through
// a Producer: serializer, then interceptors, partitioner and accumulator.
type Typed[K, V any] struct {
	p    *Producer
	keys Serializer[K]
	vals Serializer[V]
}

// NewTyped wraps p with serializers for keys and values.
func NewTyped[K, V any](p *Producer, keys Serializer[K], values Serializer[V]) *Typed[K, V] {
	return &Typed[K, V]{p: p, keys: keys, vals: values}
}

// Producer returns the underlying producer (for Flush, Close, transactions).
func (t *Typed[K, V]) Producer() *Producer { return t.p }

// Send serializes rec and sends it as Producer.Send does.
func (t *Typed[K, V]) Send(ctx context.Context, rec TypedRecord[K, V], cb Callback) Future {
	r, err := t.serialize(&rec)
	if err != nil {
		return t.p.failSend(nil, r, cb, err)
	}
	return t.p.Send(ctx, r, cb)
}

// SendSync serializes rec and sends it as Producer.SendSync does.
func (t *Typed[K, V]) SendSync(ctx context.Context, rec TypedRecord[K, V]) (RecordMetadata, error) {
	r, err := t.serialize(&rec)
	if err != nil {
		return t.p.failSend(nil, r, nil, err).Get(ctx)
	}
	return t.p.SendSync(ctx, r)
}

func (t *Typed[K, V]) serialize(rec *TypedRecord[K, V]) (*Record, error) {
	r := &Record{Topic: rec.Topic, Headers: rec.Headers, Timestamp: rec.Timestamp, Partition: rec.Partition, PinPartition: rec.PinPartition}
	var err error
	if !rec.NullKey {
		if r.Key, err = t.keys.Serialize(rec.Topic, rec.Key); err != nil {
			return r, recordError("serializing key: %v", err)
		}
	}
	if r.Value, err = t.vals.Serialize(rec.Topic, rec.Value); err != nil {
		return r, recordError("serializing value: %v", err)
	}
	return r, nil
}
