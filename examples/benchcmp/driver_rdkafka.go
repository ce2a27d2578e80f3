//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kprod/kprod/examples/internal/loadgen"
)

// rdkafkaDriver sends through confluent-kafka-go, i.e. librdkafka (the
// static library bundled with the Go package, linked with cgo): acks=all,
// enable.idempotence, the workload's linger.ms, batch.size and
// compression.type, queue.buffering.max.kbytes at Java's buffer.memory
// (librdkafka's own default is 1 GiB), murmur2_random partitioning (Java's
// for keyed records; librdkafka's sticky partitioner for the others),
// and delivery reports on the Events channel without key and value copies
// (go.delivery.report.fields=none). Allocations are the Go side's only:
// librdkafka's own C allocations do not show in Go's counters.
type rdkafkaDriver struct {
	cfg  driverConfig
	p    *kafka.Producer
	msg  kafka.Message // reused: Produce copies key and value into librdkafka
	done sync.WaitGroup
}

// rdkafkaConfig maps cfg's workload onto librdkafka properties.
func rdkafkaConfig(cfg driverConfig) kafka.ConfigMap {
	w := cfg.w
	return kafka.ConfigMap{
		"bootstrap.servers":          joinAddrs(cfg.brokers),
		"client.id":                  "benchcmp",
		"acks":                       "all",
		"enable.idempotence":         true,
		"linger.ms":                  strconv.FormatFloat(float64(w.linger)/float64(time.Millisecond), 'f', -1, 64),
		"batch.size":                 w.batchSize,
		"compression.type":           w.codec,
		"queue.buffering.max.kbytes": bufferMemory >> 10,
		"partitioner":                "murmur2_random",
		"go.delivery.report.fields":  "none",
		"log_level":                  4, // warnings and worse: no informational lines in the harness's output
	}
}

func newRdkafka(cfg driverConfig) (*rdkafkaDriver, error) {
	conf := rdkafkaConfig(cfg)
	p, err := kafka.NewProducer(&conf)
	if err != nil {
		return nil, err
	}
	d := &rdkafkaDriver{cfg: cfg, p: p}
	d.msg.TopicPartition = kafka.TopicPartition{Topic: &d.cfg.topic, Partition: kafka.PartitionAny}
	d.done.Add(1)
	go func() {
		defer d.done.Done()
		for ev := range p.Events() {
			m, ok := ev.(*kafka.Message)
			if !ok {
				continue // logs and client-level errors; a record's failure comes in its report
			}
			err := m.TopicPartition.Error
			if s, ok := m.Opaque.(*loadgen.Slot); ok {
				s.Done(err)
			} else {
				d.cfg.gen.Count(err)
			}
		}
	}()
	return d, nil
}

func (d *rdkafkaDriver) send(ctx context.Context, i int64, s *loadgen.Slot) {
	d.msg.Key, d.msg.Value = d.cfg.record(i)
	d.msg.Opaque = nil
	if s != nil {
		d.msg.Opaque = s
	}
	for {
		err := d.p.Produce(&d.msg, nil)
		var kerr kafka.Error
		if err == nil {
			return
		}
		if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull && ctx.Err() == nil {
			time.Sleep(50 * time.Microsecond) // librdkafka's queue is full: wait for deliveries
			continue
		}
		if s != nil {
			s.Done(err)
		} else {
			d.cfg.gen.Count(err)
		}
		return
	}
}

// counts: librdkafka's per-batch figures are in its statistics, not read here.
func (d *rdkafkaDriver) counts() (records, batches, requests int64) { return 0, 0, 0 }

func (d *rdkafkaDriver) close(ctx context.Context) error {
	var err error
	for d.p.Len() > 0 && ctx.Err() == nil {
		d.p.Flush(100)
	}
	if n := d.p.Len(); n > 0 {
		err = fmt.Errorf("librdkafka: %d messages unflushed: %w", n, ctx.Err())
	}
	d.p.Close() // closes Events, which ends the reader
	d.done.Wait()
	return err
}

// rdkafkaBuilt says whether this build has the librdkafka driver.
const rdkafkaBuilt = true
