package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/examples/internal/loadgen"
	"github.com/kprod/kprod/producer"
)

// errUnknownLib means a client name is not one benchcmp knows.
var errUnknownLib = errors.New("benchcmp: unknown client")

// errNotBuilt means a client's driver is not in this build (librdkafka
// needs cgo).
var errNotBuilt = errors.New("benchcmp: client not in this build")

// The clients compared, by the names the flags and the report use.
const (
	libKprod     = "kprod"
	libKgo       = "kgo"
	libSarama    = "sarama"
	libSegmentio = "segmentio"
	libRdkafka   = "librdkafka"
	libJava      = "java"
	libCeiling   = "ceiling"
	// libKprodNewRecord is kprod sent to as a user's natural loop does,
	// p.Send(ctx, &producer.Record{...}, cb), a new record each time: what
	// that costs in allocations (the kprod driver reuses one record).
	libKprodNewRecord = "kprod-newrecord"
	// kprod with the disk spool on (WithSpool, in a fresh temporary
	// directory per run) under each sync policy: what the spool costs when
	// no broker is down (batches go to disk whenever buffer.memory is full).
	libKprodSpoolAlways   = "kprod-spool-always"
	libKprodSpoolInterval = "kprod-spool-interval"
	libKprodSpoolNever    = "kprod-spool-never"
)

// libraries are the clients compared, in run and report order. kprod comes
// first: every ratio is to it.
var libraries = []string{libKprod, libKgo, libSarama, libSegmentio, libRdkafka, libJava, libCeiling}

// extraLibraries may be chosen with -libs but are not run by default; the
// report lists them after the others.
var extraLibraries = []string{libKprodNewRecord, libKprodSpoolAlways, libKprodSpoolInterval, libKprodSpoolNever}

// spoolPolicies are the spool's sync policies by their client names.
var spoolPolicies = map[string]producer.SyncPolicy{
	libKprodSpoolAlways: producer.SyncAlways, libKprodSpoolInterval: producer.SyncInterval, libKprodSpoolNever: producer.SyncNever,
}

// reportOrder is every client in the order tables list them.
var reportOrder = append(append([]string(nil), libraries...), extraLibraries...)

// peers are the clients kprod's targets compare it with (the ceiling is
// not a client one could choose).
var peers = []string{libKgo, libSarama, libSegmentio, libRdkafka, libJava}

// driver is one producer library under test, configured for a workload.
type driver interface {
	// send hands record i of the run to the library (its key and value
	// are driverConfig.record(i)). When s is not nil the record's latency
	// is sampled through it; otherwise its answer is only counted.
	send(ctx context.Context, i int64, s *loadgen.Slot)
	// counts reports records, batches and produce requests the library
	// wrote so far; zeros where the library does not say.
	counts() (records, batches, requests int64)
	close(ctx context.Context) error
}

// driverConfig is what every driver is configured from.
type driverConfig struct {
	w          workload
	brokers    []string
	topic      string
	partitions int
	gen        *loadgen.Gen
	kprodProps map[string]string // -kprod-props, for experiments
	values     [][]byte          // record i's value is values[i%len(values)]
	keys       [][]byte          // record i's key is keys[i%len(keys)]; none when empty
}

// record is the key (nil for none) and value of record i.
func (c *driverConfig) record(i int64) (key, value []byte) {
	if len(c.keys) > 0 {
		key = c.keys[i%int64(len(c.keys))]
	}
	return key, c.values[i%int64(len(c.values))]
}

// newDriver configures lib for cfg's workload; answers count in cfg.gen's
// tally.
func newDriver(lib string, cfg driverConfig) (driver, error) {
	switch lib {
	case libKprod, libKprodNewRecord, libKprodSpoolAlways, libKprodSpoolInterval, libKprodSpoolNever:
		policy, spooled := spoolPolicies[lib]
		d, err := newKprod(cfg, spooled, policy)
		if err == nil {
			d.newRecord = lib == libKprodNewRecord
		}
		return d, err
	case libKgo:
		return newKgo(cfg)
	case libSarama:
		return newSarama(cfg)
	case libSegmentio:
		return newSegmentio(cfg)
	case libRdkafka:
		return newRdkafka(cfg)
	}
	return nil, fmt.Errorf("%w: %q has no Go driver", errUnknownLib, lib)
}

// kprodDriver sends through kprod: acks=all, idempotent, the workload's
// linger, batch.size and codec, defaults otherwise.
type kprodDriver struct {
	cfg driverConfig
	p   *producer.Producer
	gen *loadgen.Gen
	rec producer.Record // reused: Send copies what it keeps
	// newRecord sends a new Record each time instead (kprod-newrecord).
	newRecord bool
	spoolDir  string // the spool's temporary directory, removed at close; "" without
}

func newKprod(cfg driverConfig, spooled bool, policy producer.SyncPolicy) (*kprodDriver, error) {
	w := cfg.w
	codec, err := producer.ParseCompression(w.codec)
	if err != nil {
		return nil, err
	}
	var spool producer.Opt
	dir := ""
	if spooled {
		if dir, err = os.MkdirTemp("", "benchcmp-spool-"); err != nil {
			return nil, err
		}
		spool = producer.WithSpool(dir, producer.SpoolSync(policy))
	}
	p, err := producer.New(
		spool, // nil options are skipped
		producer.WithBrokers(cfg.brokers...),
		producer.WithClientID("benchcmp"),
		producer.WithAcks(producer.AcksAll),
		producer.WithIdempotence(true),
		producer.WithLinger(w.linger),
		producer.WithBatchSize(w.batchSize),
		producer.WithCompression(codec),
		producer.WithProperties(cfg.kprodProps), // -kprod-props, for experiments
	)
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	return &kprodDriver{cfg: cfg, p: p, gen: cfg.gen, rec: producer.Record{Topic: cfg.topic}, spoolDir: dir}, nil
}

func (d *kprodDriver) send(ctx context.Context, i int64, s *loadgen.Slot) {
	cb := d.gen.Callback
	if s != nil {
		cb = s.Callback
	}
	key, value := d.cfg.record(i)
	if d.newRecord {
		d.p.Send(ctx, &producer.Record{Topic: d.cfg.topic, Key: key, Value: value}, cb)
		return
	}
	d.rec.Key, d.rec.Value = key, value
	d.p.Send(ctx, &d.rec, cb)
}

func (d *kprodDriver) counts() (records, batches, requests int64) {
	m := d.p.Metrics()
	return m.RecordsSent, m.BatchesSent, m.RequestsSent
}

func (d *kprodDriver) close(ctx context.Context) error {
	err := d.p.Close(ctx)
	if d.spoolDir != "" {
		if rerr := os.RemoveAll(d.spoolDir); err == nil {
			err = rerr
		}
	}
	return err
}

// kgoDriver sends through franz-go's kgo: acks=all (AllISRAcks),
// idempotent (kgo's default), the workload's linger, codec and batch.size
// (ProducerBatchMaxBytes; kgo's own default is 1 MB), defaults otherwise.
type kgoDriver struct {
	cfg   driverConfig
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

func newKgo(cfg driverConfig) (*kgoDriver, error) {
	w := cfg.w
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
		kgo.SeedBrokers(cfg.brokers...),
		kgo.ClientID("benchcmp"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(w.linger),
		kgo.ProducerBatchMaxBytes(int32(w.batchSize)),
		kgo.ProducerBatchCompression(codec),
		kgo.WithHooks(hook),
	)
	if err != nil {
		return nil, err
	}
	return newKgoDriver(cl, cfg, hook), nil
}

// newKgoDriver wires a kgo client to cfg.gen's tally.
func newKgoDriver(cl *kgo.Client, cfg driverConfig, hook *kgoBatchHook) *kgoDriver {
	d := &kgoDriver{cfg: cfg, cl: cl, topic: cfg.topic, hook: hook}
	d.promise = func(r *kgo.Record, err error) {
		cfg.gen.Count(err)
		d.recs.Put(r)
	}
	return d
}

func (d *kgoDriver) send(ctx context.Context, i int64, s *loadgen.Slot) {
	key, value := d.cfg.record(i)
	var r *kgo.Record
	promise := d.promise
	if s != nil {
		ks := slotState(s)
		r, promise = &ks.rec, ks.promise
	} else {
		r = d.record()
	}
	*r = kgo.Record{Topic: d.topic, Key: key, Value: value}
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
