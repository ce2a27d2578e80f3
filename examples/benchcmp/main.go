package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kprod/kprod/examples/internal/loadgen"
	"github.com/kprod/kprod/internal/brokerproc"
)

// errUsage marks a bad command line.
var errUsage = errors.New("benchcmp: invalid arguments")

// errTargetsMissed is returned when the comparison ran but kprod missed targets.
var errTargetsMissed = errors.New("benchcmp: targets missed")

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	case errors.Is(err, errTargetsMissed):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// options is the command line of the parent that compares and of a measured
// child run. (The broker process is told what to run by brokerproc.)
type options struct {
	// parent
	runs           int
	records        int64
	warmup         int64
	latencySeconds float64
	rate           float64
	latencyRuns    int
	workloads      string
	libs           string
	broker         string
	svg            string
	partitions     int
	topic          string
	runTimeout     time.Duration
	profileDir     string
	memProfileRate int
	verbose        bool
	brokerWarmup   bool
	out            string
	sample         int64
	kprodProps     string
	props          map[string]string // kprodProps, parsed

	// child run
	child      string
	workload   string
	brokers    string
	timeout    time.Duration
	cpuProfile string
	memProfile string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("benchcmp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 5, "runs per client and throughput workload (clients alternate: A B C … A B C …)")
	fs.IntVar(&o.latencyRuns, "latency-runs", 9, "runs per client of the latency workload (d)")
	fs.StringVar(&o.broker, "broker", brokerKfake, "broker: kfake (a blackhole kfake process) or kafka (a real single-node Apache Kafka from the jars kafka/fetch.sh caches)")
	fs.StringVar(&o.svg, "svg", "", "also write a chart of records/s and CPU µs/record per client and workload to this SVG file")
	fs.Int64Var(&o.records, "records", 2_000_000, "records per throughput run of 100-byte values (1 KiB values: a quarter)")
	fs.Int64Var(&o.warmup, "warmup", 400_000, "records sent and answered before measuring, 100-byte values (1 KiB: a quarter; latency workload: half a second's worth); enough to fill every client's buffers once, so the harness's per-record pools are grown before measuring (Java, latency workload: three seconds' worth)")
	fs.Float64Var(&o.latencySeconds, "latency-seconds", 5, "length of a latency run (workload d)")
	fs.Float64Var(&o.rate, "rate", 10_000, "records/s of the latency workload (d)")
	fs.StringVar(&o.workloads, "workloads", "a,b,c,d,e,f", "workloads to run, from a to f")
	fs.StringVar(&o.libs, "libs", strings.Join(libraries, ","), "clients to run: "+strings.Join(libraries, ", ")+
		"; also "+strings.Join(extraLibraries, ", ")+" (kprod with a new Record per Send, as a natural loop writes it; kprod with the disk spool under each sync policy)")
	fs.IntVar(&o.partitions, "partitions", 3, "partitions of the benchmark topic (workload f has its own 12)")
	fs.StringVar(&o.topic, "topic", "bench", "benchmark topic")
	fs.DurationVar(&o.runTimeout, "run-timeout", 2*time.Minute, "bound on one child run")
	fs.StringVar(&o.profileDir, "profile", "", "directory for a CPU and an allocation profile of every run")
	fs.IntVar(&o.memProfileRate, "memprofilerate", 0, "runtime.MemProfileRate in profiled runs; 0 keeps Go's default")
	fs.BoolVar(&o.verbose, "v", false, "print every run's result as it finishes")
	fs.BoolVar(&o.brokerWarmup, "broker-warmup", true, "before each workload's measured runs, one unmeasured run of the ceiling client (on Kafka, first a long one: ten times -records, 4,000,000 at least), so a JVM broker's JIT has compiled the produce path before any client is measured")
	fs.StringVar(&o.out, "out", "", "also write the report to this file")
	fs.Int64Var(&o.sample, "sample", 16, "throughput workloads time one record in this many (the latency workload times all)")
	fs.StringVar(&o.kprodProps, "kprod-props", "", "extra kprod settings as Java properties k=v,... (experiments; the targets assume none)")

	fs.StringVar(&o.child, "child", "", "internal: measure this Go client (or the ceiling) once")
	fs.StringVar(&o.workload, "workload", "", "internal: the child's workload")
	fs.StringVar(&o.brokers, "brokers", "", "internal: the child's brokers")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "internal: bound on the child's run")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "internal: the child's CPU profile file")
	fs.StringVar(&o.memProfile, "memprofile", "", "internal: the child's allocation profile file")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	switch {
	case o.sample < 1:
		return nil, fmt.Errorf("%w: -sample must be at least 1", errUsage)
	case o.runs < 1 || o.latencyRuns < 1:
		return nil, fmt.Errorf("%w: -runs and -latency-runs must be at least 1", errUsage)
	case o.broker != brokerKfake && o.broker != brokerKafka:
		return nil, fmt.Errorf("%w: -broker %q (want %s or %s)", errUsage, o.broker, brokerKfake, brokerKafka)
	case o.records < 4 || o.warmup < 0:
		return nil, fmt.Errorf("%w: -records must be at least 4 and -warmup not negative", errUsage)
	case o.latencySeconds <= 0 || o.rate <= 0:
		return nil, fmt.Errorf("%w: -latency-seconds and -rate must be positive", errUsage)
	case o.partitions < 1 || o.partitions > 10_000:
		return nil, fmt.Errorf("%w: -partitions must be between 1 and 10000", errUsage)
	case o.topic == "":
		return nil, fmt.Errorf("%w: -topic is empty", errUsage)
	case o.runTimeout <= 0 || o.timeout <= 0:
		return nil, fmt.Errorf("%w: timeouts must be positive", errUsage)
	}
	var err error
	if o.props, err = loadgen.ParseProps(o.kprodProps); err != nil {
		return nil, fmt.Errorf("%w: -kprod-props: %w", errUsage, err)
	}
	return o, nil
}

// run dispatches on the role: the broker process (started by compare
// through brokerproc), a measured child run, or the parent that compares.
func run(args []string, stdout, stderr io.Writer) error {
	if brokerproc.IsChild() {
		return brokerproc.Serve()
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.child != "" {
		w, err := findWorkload(o.workload)
		if err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		if !isLibrary(o.child) || o.child == libJava {
			return fmt.Errorf("%w: %w: %q", errUsage, errUnknownLib, o.child)
		}
		if o.brokers == "" {
			return fmt.Errorf("%w: -child needs -brokers", errUsage)
		}
		w.rate = childRate(w, o.rate)
		return runChildMode(childConfig{lib: o.child, workload: w, brokers: strings.Split(o.brokers, ","), topic: o.topic, partitions: o.partitions,
			records: o.records, warmup: o.warmup, timeout: o.timeout, sampleEvery: o.sample, kprodProps: o.props,
			cpuProfile: o.cpuProfile, memProfile: o.memProfile, memProfileRate: o.memProfileRate}, stdout)
	}
	return compare(o, stdout, stderr)
}

// childRate is the send rate of w's runs: -rate for the latency workload.
func childRate(w workload, rate float64) float64 {
	if w.rate > 0 {
		return rate
	}
	return 0
}

// compare runs every selected workload for every selected client and
// prints the report.
func compare(o *options, stdout, stderr io.Writer) error {
	ws, err := selectWorkloads(o.workloads)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	libs, err := selectLibs(o.libs)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	// A client this machine cannot run is left out, and its targets are
	// "not measured".
	var absent []string
	libs = slices.DeleteFunc(libs, func(lib string) bool {
		why := clientAvailable(lib)
		if why != nil {
			absent = append(absent, fmt.Sprintf("%s (%v)", lib, why))
			fmt.Fprintf(stderr, "%s not measured: %v\n", lib, why)
		}
		return why != nil
	})
	if len(libs) == 0 {
		return fmt.Errorf("%w: no selected client can run here", errUsage)
	}
	self, err := os.Executable() // re-executed as the kfake broker and as every Go run
	if err != nil {
		return err
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "benchcmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The broker lives until stopped by its pid, or until this process is
	// gone (kfake watches the stdin only this process holds; the JVM gets
	// SIGKILL from the kernel when its parent dies).
	bctx, bcancel := context.WithTimeout(ctx, 5*time.Minute)
	b, err := startBroker(bctx, o.broker, self)
	if err != nil {
		bcancel()
		return err
	}
	defer b.stop()
	created := make(map[string]bool)
	for _, w := range ws {
		topic := w.topicName(o.topic)
		if created[topic] {
			continue
		}
		created[topic] = true
		if err := b.createTopic(bctx, topic, w.topicPartitions(o.partitions)); err != nil {
			bcancel()
			return err
		}
	}
	bcancel()
	fmt.Fprintf(stderr, "%s broker pid %d at %s\n", o.broker, b.pid(), strings.Join(b.Addrs(), ","))

	// A JVM broker compiles its produce path only after thousands of
	// requests: a long ceiling run first, so the first workload measured is
	// not the one that paid for it.
	if o.brokerWarmup && o.broker == brokerKafka {
		for _, w := range ws {
			if w.latency {
				continue
			}
			long := *o
			long.records = max(10*o.records, 4_000_000)
			if _, err := runChild(ctx, self, &long, w, libCeiling, -1, b.Addrs(), stderr); err != nil {
				return fmt.Errorf("broker warm-up: %w", err)
			}
			break
		}
	}

	var outs []outcome
	for _, w := range ws {
		out := outcome{w: w, partitions: w.topicPartitions(o.partitions), runs: make(map[string][]result)}
		runs := o.runs
		if w.latency {
			runs = o.latencyRuns
		}
		if o.brokerWarmup {
			if _, err := runChild(ctx, self, o, w, libCeiling, -1, b.Addrs(), stderr); err != nil {
				return fmt.Errorf("workload %s, broker warm-up: %w", w.name, err)
			}
		}
		for i := 0; i < runs; i++ {
			for _, lib := range libs {
				cpu0, err := processCPU(b.pid())
				if err != nil {
					return fmt.Errorf("broker CPU time: %w", err)
				}
				var r result
				if lib == libJava {
					records, warmup, _ := runSize(o, w)
					if w.latency {
						// ProducerPerformance paces from the JVM's start and
						// catches up in a burst; three seconds of warm-up
						// keep that, and the JIT, out of the steady state.
						warmup = max(warmup, int64(3*o.rate))
					}
					r, err = runJava(ctx, tmp, w, b.Addrs(), w.topicName(o.topic), records, warmup, childRate(w, o.rate), o.runTimeout+30*time.Second)
				} else {
					r, err = runChild(ctx, self, o, w, lib, i, b.Addrs(), stderr)
				}
				if err != nil {
					return fmt.Errorf("workload %s, %s run %d: %w", w.name, lib, i+1, err)
				}
				cpu1, err := processCPU(b.pid())
				if err != nil {
					return fmt.Errorf("broker CPU time: %w", err)
				}
				r.BrokerCPUMicrosPerRec = float64(cpu1-cpu0) / 1e3 / float64(r.Records+r.Warmup)
				if r.Errors > 0 {
					return fmt.Errorf("workload %s, %s run %d: %d records failed, the first with: %s", w.name, lib, i+1, r.Errors, r.FirstErr)
				}
				out.runs[lib] = append(out.runs[lib], r)
				if o.verbose {
					fmt.Fprintf(stderr, "%s run %d %-10s records/s=%s cpu_us/rec=%.3f allocs/rec=%.3f p99_ms=%.3f peak_rss_mib=%.1f rec/batch=%.1f broker_cpu_us/rec=%.3f\n",
						w.name, i+1, lib, group(r.RecordsPerSec, 0), r.CPUMicrosPerRec, r.AllocsPerRec, r.P99Ms,
						float64(r.PeakRSSKiB)/1024, r.RecordsPerBatch, r.BrokerCPUMicrosPerRec)
				}
			}
		}
		outs = append(outs, out)
	}

	var report bytes.Buffer
	writeEnvironment(&report, o, b.describe(), absent)
	missed := writeReport(&report, outs, o.broker)
	if _, err := stdout.Write(report.Bytes()); err != nil {
		return err
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, report.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if o.svg != "" {
		if err := os.WriteFile(o.svg, chartSVG(outs, libs, o.broker), 0o644); err != nil {
			return err
		}
	}
	if missed > 0 && len(libs) == len(libraries) {
		return fmt.Errorf("%w: %d", errTargetsMissed, missed)
	}
	return nil
}

// clientAvailable says why lib cannot run on this machine, nil if it can.
func clientAvailable(lib string) error {
	switch lib {
	case libJava:
		return javaAvailable()
	case libRdkafka:
		if !rdkafkaBuilt {
			return fmt.Errorf("%w: %s needs cgo", errNotBuilt, lib)
		}
	}
	return nil
}

// runSize is how many records a run of w sends after how many warm-up
// ones, and how often it times one.
func runSize(o *options, w workload) (records, warmup, sample int64) {
	records, warmup, sample = o.records/int64(w.recordsDiv), o.warmup/int64(w.recordsDiv), o.sample
	if w.latency {
		records = int64(o.latencySeconds * o.rate)
		warmup = max(int64(o.rate/2), 1)
		sample = 1
	}
	return records, warmup, sample
}

// selectLibs parses the -libs list.
func selectLibs(list string) ([]string, error) {
	var out []string
	for _, l := range strings.Split(list, ",") {
		l = strings.TrimSpace(l)
		if l == "" || containsString(out, l) {
			continue
		}
		if !isLibrary(l) {
			return nil, fmt.Errorf("%w: %q", errUnknownLib, l)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: none selected", errUnknownLib)
	}
	return out, nil
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// runChild runs one measured child process and returns its result.
func runChild(ctx context.Context, self string, o *options, w workload, lib string, i int, brokers []string, stderr io.Writer) (result, error) {
	records, warmup, sample := runSize(o, w)
	args := []string{"-child", lib, "-workload", w.name, "-brokers", strings.Join(brokers, ","), "-topic", w.topicName(o.topic),
		"-partitions", strconv.Itoa(w.topicPartitions(o.partitions)),
		"-records", strconv.FormatInt(records, 10), "-warmup", strconv.FormatInt(warmup, 10),
		"-rate", strconv.FormatFloat(o.rate, 'f', -1, 64), "-timeout", o.runTimeout.String(),
		"-sample", strconv.FormatInt(sample, 10), "-kprod-props", o.kprodProps}
	if o.profileDir != "" && i >= 0 { // i < 0: the broker warm-up, not profiled
		base := filepath.Join(o.profileDir, fmt.Sprintf("%s-%s-%d", w.name, lib, i+1))
		args = append(args, "-cpuprofile", base+".cpu.pprof", "-memprofile", base+".allocs.pprof")
		if o.memProfileRate > 0 {
			args = append(args, "-memprofilerate", strconv.Itoa(o.memProfileRate))
		}
	}
	// The child bounds itself by -timeout; this bound (a little longer)
	// also covers its start and close.
	cctx, cancel := context.WithTimeout(ctx, o.runTimeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, self, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%w\n%s", err, strings.TrimSpace(errOut.String()))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, resultPrefix) {
			return parseResult(line)
		}
	}
	if errOut.Len() > 0 {
		fmt.Fprint(stderr, errOut.String())
	}
	return result{}, fmt.Errorf("%w: the child printed none", errBadResult)
}
