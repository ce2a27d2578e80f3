package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	gometrics "github.com/rcrowley/go-metrics"

	"github.com/kprod/kprod/examples/internal/loadgen"
)

// saramaDriver sends through IBM/sarama's AsyncProducer: acks=all
// (WaitForAll), idempotent (which sarama allows only with one request in
// flight per broker: Net.MaxOpenRequests = 1, where the other clients keep
// 5), the workload's codec and linger (Flush.Frequency), and its batch.size
// as the limit of one partition's batch (Producer.MaxMessageBytes) with a
// request sent once a batch's worth per partition is buffered (Flush.Bytes;
// with linger 0, as soon as anything is). Keys are partitioned with murmur2 as Java does
// (NewMurmur2Partitioner); records without a key go to a random partition,
// sarama's only choice for them. Its channels hold 4,096 messages (256 by
// default), so the answer goroutines do not hold the producer back.
type saramaDriver struct {
	cfg  driverConfig
	p    sarama.AsyncProducer
	reg  gometrics.Registry // sarama's, for its batch and request counts
	done sync.WaitGroup
	// keys and values are the run's keys and values boxed once as sarama
	// encoders, so the harness allocates nothing per record.
	keys, values []sarama.Encoder
	msgs         loadgen.FreeList[sarama.ProducerMessage] // for records not timed
	answered     atomic.Int64
}

// saramaConfig maps cfg's workload onto a sarama configuration.
func saramaConfig(cfg driverConfig) (*sarama.Config, error) {
	w := cfg.w
	c := sarama.NewConfig()
	c.ClientID = "benchcmp"
	c.Version = sarama.V4_0_0_0
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1 // sarama's condition for idempotence
	c.Producer.Retry.Max = 5
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Partitioner = sarama.NewMurmur2Partitioner
	c.Producer.MaxMessageBytes = w.batchSize
	if w.linger > 0 {
		// With a linger, sarama waits for a request's worth of records
		// (or the linger); without one it sends whatever is buffered at
		// once (Flush.Bytes without a Frequency would wait forever).
		c.Producer.Flush.Bytes = w.batchSize * max(cfg.partitions, 1)
		c.Producer.Flush.Frequency = w.linger
	}
	c.ChannelBufferSize = 4096
	switch w.codec {
	case "none":
		c.Producer.Compression = sarama.CompressionNone
	case "lz4":
		c.Producer.Compression = sarama.CompressionLZ4
	case "zstd":
		c.Producer.Compression = sarama.CompressionZSTD
	default:
		return nil, fmt.Errorf("%w: codec %q", errUnknownWorkload, w.codec)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("benchcmp: sarama configuration: %w", err)
	}
	return c, nil
}

func newSarama(cfg driverConfig) (*saramaDriver, error) {
	c, err := saramaConfig(cfg)
	if err != nil {
		return nil, err
	}
	p, err := sarama.NewAsyncProducer(cfg.brokers, c)
	if err != nil {
		return nil, err
	}
	d := &saramaDriver{cfg: cfg, p: p, reg: c.MetricRegistry}
	for _, k := range cfg.keys {
		d.keys = append(d.keys, sarama.ByteEncoder(k))
	}
	for _, v := range cfg.values {
		d.values = append(d.values, sarama.ByteEncoder(v))
	}
	d.done.Add(2)
	go func() {
		defer d.done.Done()
		for m := range p.Successes() {
			d.answer(m, nil)
		}
	}()
	go func() {
		defer d.done.Done()
		for e := range p.Errors() {
			d.answer(e.Msg, e.Err)
		}
	}()
	return d, nil
}

// answer notes a record's answer through its slot (a timed record) or the
// tally, and recycles its message.
func (d *saramaDriver) answer(m *sarama.ProducerMessage, err error) {
	d.answered.Add(1)
	if s, ok := m.Metadata.(*loadgen.Slot); ok {
		s.Done(err)
		return // the message is the slot's, reused with it
	}
	d.cfg.gen.Count(err)
	d.msgs.Put(m)
}

func (d *saramaDriver) send(ctx context.Context, i int64, s *loadgen.Slot) {
	var m *sarama.ProducerMessage
	if s != nil {
		var ok bool
		if m, ok = s.Ext.(*sarama.ProducerMessage); !ok {
			m = new(sarama.ProducerMessage)
			s.Ext = m
		}
	} else if m = d.msgs.Get(); m == nil {
		m = new(sarama.ProducerMessage)
	}
	*m = sarama.ProducerMessage{Topic: d.cfg.topic, Value: d.values[i%int64(len(d.values))]}
	if len(d.keys) > 0 {
		m.Key = d.keys[i%int64(len(d.keys))]
	}
	if s != nil {
		m.Metadata = s
	}
	select {
	case d.p.Input() <- m:
	case <-ctx.Done():
		d.answer(m, ctx.Err())
	}
}

// counts reads sarama's own metrics: its "batch-size" histogram is
// updated once per partition batch, "records-per-request" once per produce
// request (records are the answers counted here).
func (d *saramaDriver) counts() (records, batches, requests int64) {
	count := func(name string) int64 {
		if h, ok := d.reg.Get(name).(gometrics.Histogram); ok {
			return h.Count()
		}
		return 0
	}
	return d.answered.Load(), count("batch-size"), count("records-per-request")
}

func (d *saramaDriver) close(ctx context.Context) error {
	errc := make(chan error, 1)
	// Close flushes and drains the answer channels itself; the harness
	// closes only after every record was answered, so nothing is lost.
	go func() { errc <- d.p.Close() }()
	select {
	case err := <-errc:
		d.done.Wait()
		return err
	case <-ctx.Done():
		d.p.AsyncClose()
		return fmt.Errorf("sarama close: %w", ctx.Err())
	}
}
