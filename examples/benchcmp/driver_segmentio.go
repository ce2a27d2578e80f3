package main

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/kprod/kprod/examples/internal/loadgen"
)

// segmentioDriver sends through segmentio/kafka-go's Writer in Async mode,
// one WriteMessages call per record, answers through Completion. kafka-go
// has no idempotent producer, so its runs are acks=all without idempotence.
// The workload's batch.size is the Writer's BatchBytes (per partition), with
// BatchSize (a record count, which kafka-go preallocates) set to what fits
// in it; linger is BatchTimeout (kafka-go reads 0 as its 1 s default, so
// linger 0 becomes 1 µs). Keyed records are partitioned with murmur2 as
// Java does; records without a key round robin, kafka-go's default.
//
// Async WriteMessages never blocks, so the driver bounds what is
// unanswered to about buffer.memory's worth of values, as the other
// clients' buffers do.
type segmentioDriver struct {
	cfg driverConfig
	w   *kafka.Writer
	one [1]kafka.Message // the argument of every WriteMessages call; kafka-go copies it

	outstanding atomic.Int64
	limit       int64
	space       chan struct{} // a token when outstanding fell below limit

	records atomic.Int64
	batches atomic.Int64
}

// segmentioWriter maps cfg's workload onto a kafka-go Writer.
func segmentioWriter(cfg driverConfig) (*kafka.Writer, error) {
	w := cfg.w
	wr := &kafka.Writer{
		Addr:         kafka.TCP(cfg.brokers...),
		Topic:        cfg.topic,
		RequiredAcks: kafka.RequireAll,
		Async:        true,
		BatchBytes:   int64(w.batchSize),
		BatchSize:    max(w.batchSize/max(w.valueSize, 1), 1),
		BatchTimeout: max(w.linger, time.Microsecond),
		Balancer:     &kafka.RoundRobin{},
		Transport:    &kafka.Transport{ClientID: "benchcmp", Dial: (&net.Dialer{Timeout: 10 * time.Second}).DialContext},
	}
	if w.keys > 0 {
		wr.Balancer = kafka.Murmur2Balancer{}
	}
	switch w.codec {
	case "none":
	case "lz4":
		wr.Compression = compress.Lz4
	case "zstd":
		wr.Compression = compress.Zstd
	default:
		return nil, fmt.Errorf("%w: codec %q", errUnknownWorkload, w.codec)
	}
	return wr, nil
}

func newSegmentio(cfg driverConfig) (*segmentioDriver, error) {
	wr, err := segmentioWriter(cfg)
	if err != nil {
		return nil, err
	}
	d := &segmentioDriver{cfg: cfg, w: wr, limit: max(bufferMemory/int64(max(cfg.w.valueSize, 1)), 1024), space: make(chan struct{}, 1)}
	wr.Completion = d.completion
	return d, nil
}

// completion answers the records of one written batch.
func (d *segmentioDriver) completion(msgs []kafka.Message, err error) {
	for i := range msgs {
		if s, ok := msgs[i].WriterData.(*loadgen.Slot); ok {
			s.Done(err)
		} else {
			d.cfg.gen.Count(err)
		}
	}
	d.records.Add(int64(len(msgs)))
	d.batches.Add(1)
	if d.outstanding.Add(-int64(len(msgs))) < d.limit {
		select {
		case d.space <- struct{}{}:
		default:
		}
	}
}

func (d *segmentioDriver) send(ctx context.Context, i int64, s *loadgen.Slot) {
	for d.outstanding.Load() >= d.limit && ctx.Err() == nil {
		select { // wait, without spinning, for answers to make room
		case <-d.space:
		case <-ctx.Done():
		}
	}
	key, value := d.cfg.record(i)
	d.one[0] = kafka.Message{Key: key, Value: value}
	if s != nil {
		d.one[0].WriterData = s
	}
	d.outstanding.Add(1)
	if err := d.w.WriteMessages(ctx, d.one[:]...); err != nil {
		d.outstanding.Add(-1)
		if s != nil {
			s.Done(err)
		} else {
			d.cfg.gen.Count(err)
		}
	}
}

// counts: kafka-go writes one batch per produce request.
func (d *segmentioDriver) counts() (records, batches, requests int64) {
	b := d.batches.Load()
	return d.records.Load(), b, b
}

func (d *segmentioDriver) close(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- d.w.Close() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return fmt.Errorf("kafka-go close: %w", ctx.Err())
	}
}
