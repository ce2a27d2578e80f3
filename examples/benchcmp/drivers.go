package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/examples/internal/loadgen"
	"github.com/kprod/kprod/producer"
)

// errUnknownLib means a library name is neither kprod nor kgo.
var errUnknownLib = errors.New("benchcmp: unknown library")

// libraries are the producers compared, in run order.
var libraries = []string{"kprod", "kgo"}

// driver is one producer library under test, configured for a workload.
type driver interface {
	// send hands one record to the library. When s is not nil the record's
	// latency is sampled through it; otherwise its answer is only counted.
	send(ctx context.Context, value []byte, s *loadgen.Slot)
	// counts reports records and batches the library wrote so far.
	counts() (records, batches, requests int64)
	close(ctx context.Context) error
}

// newDriver configures lib for workload w against brokers; answers count
// in gen's tally.
func newDriver(lib string, w workload, brokers []string, topic string, gen *loadgen.Gen, kprodProps map[string]string) (driver, error) {
	switch lib {
	case "kprod":
		return newKprod(w, brokers, topic, gen, kprodProps)
	case "kgo":
		return newKgo(w, brokers, topic, gen)
	}
	return nil, fmt.Errorf("%w: %q", errUnknownLib, lib)
}

// kprodDriver sends through kprod: acks=all, idempotent, the workload's
// linger and codec, defaults otherwise.
type kprodDriver struct {
	p   *producer.Producer
	gen *loadgen.Gen
	rec producer.Record // reused: Send copies what it keeps
}

func newKprod(w workload, brokers []string, topic string, gen *loadgen.Gen, props map[string]string) (*kprodDriver, error) {
	codec, err := producer.ParseCompression(w.codec)
	if err != nil {
		return nil, err
	}
	p, err := producer.New(
		producer.WithBrokers(brokers...),
		producer.WithClientID("benchcmp"),
		producer.WithAcks(producer.AcksAll),
		producer.WithIdempotence(true),
		producer.WithLinger(w.linger),
		producer.WithCompression(codec),
		producer.WithProperties(props), // -kprod-props, for experiments
	)
	if err != nil {
		return nil, err
	}
	return &kprodDriver{p: p, gen: gen, rec: producer.Record{Topic: topic}}, nil
}

func (d *kprodDriver) send(ctx context.Context, value []byte, s *loadgen.Slot) {
	d.rec.Value = value
	cb := d.gen.Callback
	if s != nil {
		cb = s.Callback
	}
	d.p.Send(ctx, &d.rec, cb)
}

func (d *kprodDriver) counts() (records, batches, requests int64) {
	m := d.p.Metrics()
	return m.RecordsSent, m.BatchesSent, m.RequestsSent
}

func (d *kprodDriver) close(ctx context.Context) error { return d.p.Close(ctx) }

// kgoDriver sends through franz-go's kgo: acks=all (AllISRAcks),
// idempotent (kgo's default), the workload's linger and codec, defaults
// otherwise.
type kgoDriver struct {
	cl    *kgo.Client
	topic string
	hook  *kgoBatchHook
	// recs recycles the records not timed: kgo keeps each until its
	// promise has run. (kprod copies on Send, so its driver reuses one.)
	recs    loadgen.FreeList[kgo.Record]
	promise func(*kgo.Record, error) // for records not timed
}

// kgoSlot is what a timed record's slot carries for kgo: the record kgo
// keeps until the promise, made once per slot, notes its latency.
type kgoSlot struct {
	rec     kgo.Record
	promise func(*kgo.Record, error)
}

// kgoBatchHook counts the batches, records and produce requests kgo wrote.
type kgoBatchHook struct {
	records, batches, requests atomic.Int64
}

// OnProduceBatchWritten is kgo's per-batch hook.
func (h *kgoBatchHook) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	h.records.Add(int64(m.NumRecords))
	h.batches.Add(1)
}

// OnBrokerWrite is kgo's per-request hook; it counts produce requests.
func (h *kgoBatchHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		h.requests.Add(1)
	}
}

func newKgo(w workload, brokers []string, topic string, gen *loadgen.Gen) (*kgoDriver, error) {
	var codec kgo.CompressionCodec
	switch w.codec {
	case "none":
		codec = kgo.NoCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("%w: codec %q", errUnknownWorkload, w.codec)
	}
	hook := &kgoBatchHook{}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("benchcmp"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(w.linger),
		kgo.ProducerBatchCompression(codec),
		kgo.WithHooks(hook),
	)
	if err != nil {
		return nil, err
	}
	return newKgoDriver(cl, topic, hook, gen), nil
}

// newKgoDriver wires a kgo client to gen's tally.
func newKgoDriver(cl *kgo.Client, topic string, hook *kgoBatchHook, gen *loadgen.Gen) *kgoDriver {
	d := &kgoDriver{cl: cl, topic: topic, hook: hook}
	d.promise = func(r *kgo.Record, err error) {
		gen.Count(err)
		d.recs.Put(r)
	}
	return d
}

func (d *kgoDriver) send(ctx context.Context, value []byte, s *loadgen.Slot) {
	var r *kgo.Record
	promise := d.promise
	if s != nil {
		ks := slotState(s)
		r, promise = &ks.rec, ks.promise
	} else {
		r = d.record()
	}
	*r = kgo.Record{Topic: d.topic, Value: value}
	d.cl.Produce(ctx, r, promise)
}

// record returns a recycled (or new) record for a send that is not timed.
func (d *kgoDriver) record() *kgo.Record {
	if r := d.recs.Get(); r != nil {
		return r
	}
	return new(kgo.Record)
}

// slotState is s's kgo state, made the first time the driver sees s.
func slotState(s *loadgen.Slot) *kgoSlot {
	if ks, ok := s.Ext.(*kgoSlot); ok {
		return ks
	}
	ks := &kgoSlot{promise: func(_ *kgo.Record, err error) { s.Done(err) }}
	s.Ext = ks
	return ks
}

func (d *kgoDriver) counts() (records, batches, requests int64) {
	return d.hook.records.Load(), d.hook.batches.Load(), d.hook.requests.Load()
}

func (d *kgoDriver) close(ctx context.Context) error {
	err := d.cl.Flush(ctx)
	d.cl.Close()
	return err
}
