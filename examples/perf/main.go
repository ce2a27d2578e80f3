package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

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

	stopProfile, err := startProfiles(o)
	if err != nil {
		return 0, err
	}
	st := newStats(o.records)
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		st.progress(stdout, o.interval, o.recordSize, stopProgress)
	}()

	start := time.Now()
	send(ctx, p, o, st, start)
	select {
	case <-st.done:
	case <-ctx.Done():
	}
	elapsed := time.Since(start)
	close(stopProgress)
	<-progressDone
	stopProfile()

	cctx, ccancel := context.WithTimeout(context.Background(), closeTimeout)
	cerr := p.Close(cctx) // answers whatever the timeout left unanswered
	ccancel()
	closed = true
	if err := writeMemProfile(o); err != nil {
		return 0, err
	}
	if ep := st.firstErr.Load(); ep != nil {
		fmt.Fprintf(stderr, "first error: %v\n", *ep)
	}
	fmt.Fprintln(stdout, st.summary(o.records, o.recordSize, elapsed))
	failed = st.errors.Load() + o.records - st.answered.Load()
	if cerr != nil {
		return failed, fmt.Errorf("close: %w", cerr)
	}
	if ctx.Err() != nil {
		return failed, fmt.Errorf("run did not finish within -timeout %v", o.timeout)
	}
	return failed, nil
}

// send hands every record to the producer, paced by -throughput. One value
// buffer and one Record are reused throughout: Send copies what it needs.
func send(ctx context.Context, p *producer.Producer, o *options, st *stats, start time.Time) {
	value := make([]byte, o.recordSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = 'A' + byte(rng.IntN(26))
	}
	keys := make([][]byte, o.keys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%d", i)
	}
	slots := &slotList{st: st}
	thr := newThrottle(o.throughput, start)
	rec := &producer.Record{Topic: o.topic, Value: value}
	for i := int64(0); i < o.records; i++ {
		thr.wait(i)
		if len(keys) > 0 {
			rec.Key = keys[i%int64(len(keys))]
		}
		s := slots.get()
		p.Send(ctx, rec, s.cb)
	}
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

// startProfiles starts the CPU profile and sets the allocation sampling rate
// the flags ask for; the returned func stops the CPU profile.
func startProfiles(o *options) (stop func(), err error) {
	if o.memProfileRate > 0 {
		runtime.MemProfileRate = o.memProfileRate
	}
	if o.cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(o.cpuProfile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeMemProfile writes the allocation profile when -memprofile asks for it.
func writeMemProfile(o *options) error {
	if o.memProfile == "" {
		return nil
	}
	f, err := os.Create(o.memProfile)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}
