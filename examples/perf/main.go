package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/examples/internal/loadgen"
	"github.com/kprod/kprod/producer"
)

// closeTimeout bounds Close at the end of a run.
const closeTimeout = 30 * time.Second

func main() {
	failed, err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	case failed > 0:
		os.Exit(1)
	}
}

// run performs one perf test and prints its progress and summary to stdout.
// It returns how many records failed.
func run(args []string, stdout, stderr io.Writer) (failed int64, err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	seeds := strings.Split(o.brokers, ",")
	if o.brokers == "" {
		c, err := startCluster(o)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		seeds = c.ListenAddrs()
		fmt.Fprintf(stdout, "embedded cluster: %d broker(s) at %s, topic %q with %d partitions, blackhole=%v\n",
			o.embeddedBrokers, strings.Join(seeds, ","), o.topic, o.partitions, o.blackhole)
	}
	opts, err := o.producerOpts(seeds)
	if err != nil {
		return 0, err
	}
	p, err := producer.New(opts...)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errUsage, err)
	}
	closed := false
	defer func() {
		if !closed {
			cctx, ccancel := context.WithTimeout(context.Background(), closeTimeout)
			_ = p.Close(cctx)
			ccancel()
		}
	}()
	// Load the topic's metadata first, so the timed part measures producing.
	if _, err := p.PartitionsFor(ctx, o.topic); err != nil {
		return 0, err
	}

	loadgen.SetMemProfileRate(o.memProfileRate)
	stopProfile, err := loadgen.StartCPUProfile(o.cpuProfile)
	if err != nil {
		return 0, err
	}
	st := loadgen.NewTally(o.records)
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		progress(stdout, st, o.interval, o.recordSize, stopProgress)
	}()

	start := time.Now()
	_ = send(ctx, p, o, st) // a ctx that ended is reported below, after the summary
	elapsed := time.Since(start)
	close(stopProgress)
	<-progressDone
	stopProfile()

	cctx, ccancel := context.WithTimeout(context.Background(), closeTimeout)
	cerr := p.Close(cctx) // answers whatever the timeout left unanswered
	ccancel()
	closed = true
	if err := loadgen.WriteMemProfile(o.memProfile); err != nil {
		return 0, err
	}
	if err := st.FirstErr(); err != nil {
		fmt.Fprintf(stderr, "first error: %v\n", err)
	}
	fmt.Fprintln(stdout, summary(st, o.recordSize, elapsed))
	failed = st.Errors() + o.records - st.Answered()
	if cerr != nil {
		return failed, fmt.Errorf("close: %w", cerr)
	}
	if ctx.Err() != nil {
		return failed, fmt.Errorf("run did not finish within -timeout %v", o.timeout)
	}
	return failed, nil
}

// send hands every record to the producer, paced by -throughput, times
// each one, and waits for the answers. One value buffer and one Record are
// reused throughout: Send copies what it needs.
func send(ctx context.Context, p *producer.Producer, o *options, st *loadgen.Tally) error {
	value := make([]byte, o.recordSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = 'A' + byte(rng.IntN(26))
	}
	keys := make([][]byte, o.keys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%d", i)
	}
	rec := &producer.Record{Topic: o.topic, Value: value}
	return loadgen.New().Run(ctx, st, loadgen.Load{Rate: o.throughput}, func(i int64, s *loadgen.Slot) {
		if len(keys) > 0 {
			rec.Key = keys[i%int64(len(keys))]
		}
		p.Send(ctx, rec, s.Callback)
	})
}

// startCluster starts the embedded kfake cluster on loopback.
func startCluster(o *options) (*kfake.Cluster, error) {
	kopts := []kfake.Opt{kfake.NumBrokers(o.embeddedBrokers), kfake.SeedTopics(int32(o.partitions), o.topic)}
	if o.blackhole {
		kopts = append(kopts, kfake.BlackholeProduce())
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("embedded cluster: %w", err)
	}
	return c, nil
}
