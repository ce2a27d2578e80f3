package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kprod/kprod/examples/internal/loadgen"
	"github.com/kprod/kprod/producer"
)

// errUsage marks a bad command line; main exits with status 2 on it.
var errUsage = errors.New("perf: invalid arguments")

// options is the parsed command line.
type options struct {
	brokers         string
	topic           string
	records         int64
	recordSize      int
	throughput      float64 // records per second; <= 0 means no cap
	acks            string
	linger          time.Duration
	batchSize       int
	compression     string
	idempotent      bool
	keys            int
	props           string
	blackhole       bool
	embeddedBrokers int
	partitions      int
	timeout         time.Duration
	interval        time.Duration
	cpuProfile      string
	memProfile      string
	memProfileRate  int

	given map[string]bool // flags set on the command line
}

// parseFlags reads the command line. Producer flags keep the producer's
// defaults unless given.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{given: make(map[string]bool)}
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.brokers, "brokers", "", "comma-separated host:port list; empty starts an embedded kfake cluster")
	fs.StringVar(&o.topic, "topic", "perf-test", "topic to produce to")
	fs.Int64Var(&o.records, "records", 1_000_000, "number of records to send")
	fs.IntVar(&o.recordSize, "record-size", 100, "value size in bytes")
	fs.Float64Var(&o.throughput, "throughput", -1, "cap in records/s; -1 sends as fast as possible")
	fs.StringVar(&o.acks, "acks", "all", "acks: 0, 1 or all")
	fs.DurationVar(&o.linger, "linger", 5*time.Millisecond, "linger (linger.ms)")
	fs.IntVar(&o.batchSize, "batch-size", 16384, "batch size in bytes (batch.size)")
	fs.StringVar(&o.compression, "compression", "none", "none, gzip, snappy, lz4 or zstd (compression.type)")
	fs.BoolVar(&o.idempotent, "idempotent", true, "idempotent producer (enable.idempotence)")
	fs.IntVar(&o.keys, "keys", 0, "number of distinct keys, cycled; 0 sends unkeyed records")
	fs.StringVar(&o.props, "producer-props", "", "Java producer properties k=v,k=v (applied after the flags)")
	fs.BoolVar(&o.blackhole, "blackhole", false, "embedded cluster only: acknowledge produce requests without storing records")
	fs.IntVar(&o.embeddedBrokers, "embedded-brokers", 1, "brokers of the embedded cluster (1 or 3)")
	fs.IntVar(&o.partitions, "partitions", 3, "partitions of the topic on the embedded cluster")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound on the whole run")
	fs.DurationVar(&o.interval, "interval", time.Second, "progress report interval; 0 turns progress off")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the send phase to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile to this file at the end")
	fs.IntVar(&o.memProfileRate, "memprofilerate", 0, "runtime.MemProfileRate while profiling; 0 keeps Go's default")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { o.given[f.Name] = true })
	return o, o.check()
}

// check rejects values the run cannot use.
func (o *options) check() error {
	switch {
	case o.topic == "":
		return fmt.Errorf("%w: -topic is empty", errUsage)
	case o.records <= 0:
		return fmt.Errorf("%w: -records must be positive", errUsage)
	case o.recordSize < 0:
		return fmt.Errorf("%w: -record-size must not be negative", errUsage)
	case o.keys < 0:
		return fmt.Errorf("%w: -keys must not be negative", errUsage)
	case o.brokers == "" && o.embeddedBrokers < 1:
		return fmt.Errorf("%w: -embedded-brokers must be at least 1", errUsage)
	case o.brokers == "" && (o.partitions < 1 || o.partitions > 1<<20):
		return fmt.Errorf("%w: -partitions must be between 1 and %d", errUsage, 1<<20)
	case o.timeout <= 0:
		return fmt.Errorf("%w: -timeout must be positive", errUsage)
	case o.interval < 0:
		return fmt.Errorf("%w: -interval must not be negative", errUsage)
	case o.blackhole && o.brokers != "":
		return fmt.Errorf("%w: -blackhole needs the embedded cluster (no -brokers)", errUsage)
	}
	return nil
}

// producerOpts turns the flags that were given, then -producer-props, into
// producer options for the given seed brokers.
func (o *options) producerOpts(seeds []string) ([]producer.Opt, error) {
	opts := []producer.Opt{producer.WithBrokers(seeds...), producer.WithClientID("kprod-perf")}
	if o.given["acks"] {
		a, err := parseAcks(o.acks)
		if err != nil {
			return nil, err
		}
		opts = append(opts, producer.WithAcks(a))
	}
	if o.given["linger"] {
		opts = append(opts, producer.WithLinger(o.linger))
	}
	if o.given["batch-size"] {
		opts = append(opts, producer.WithBatchSize(o.batchSize))
	}
	if o.given["compression"] {
		c, err := producer.ParseCompression(o.compression)
		if err != nil {
			return nil, fmt.Errorf("%w: -compression: %w", errUsage, err)
		}
		opts = append(opts, producer.WithCompression(c))
	}
	if o.given["idempotent"] {
		opts = append(opts, producer.WithIdempotence(o.idempotent))
	}
	if o.props != "" {
		props, err := loadgen.ParseProps(o.props)
		if err != nil {
			return nil, fmt.Errorf("%w: -producer-props: %w", errUsage, err)
		}
		opts = append(opts, producer.WithProperties(props))
	}
	return opts, nil
}

// parseAcks reads the -acks flag.
func parseAcks(s string) (producer.Acks, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0":
		return producer.AcksNone, nil
	case "1":
		return producer.AcksLeader, nil
	case "all", "-1":
		return producer.AcksAll, nil
	}
	return 0, fmt.Errorf("%w: -acks %q (want 0, 1 or all)", errUsage, s)
}
