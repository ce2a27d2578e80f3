package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/kprod/kprod/examples/internal/loadgen"
)

// resultPrefix starts the one line a child prints with its result.
const resultPrefix = "benchcmp-result "

// errBadResult means a child's result line could not be used.
var errBadResult = errors.New("benchcmp: bad result line")

// result is what one child run measured. Per-record figures cover the
// measured phase only (after the warm-up); memory figures cover the process.
type result struct {
	Lib      string `json:"lib"`
	Workload string `json:"workload"`
	Records  int64  `json:"records"`
	Warmup   int64  `json:"warmup"`
	Errors   int64  `json:"errors"`
	FirstErr string `json:"first_error,omitempty"`

	Seconds         float64 `json:"seconds"`
	RecordsPerSec   float64 `json:"records_per_sec"`
	CPUMicrosPerRec float64 `json:"cpu_us_per_record"`
	AllocsPerRec    float64 `json:"allocs_per_record"`
	BytesPerRec     float64 `json:"alloc_bytes_per_record"`
	GCs             uint32  `json:"gcs"`

	Sampled int64   `json:"sampled"` // records whose latency was measured
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`

	StartRSSKiB int64 `json:"start_rss_kib"` // VmRSS before the producer existed
	PeakRSSKiB  int64 `json:"peak_rss_kib"`  // VmHWM at the end

	RecordsPerBatch   float64 `json:"records_per_batch"`
	RecordsPerRequest float64 `json:"records_per_request"`

	// BrokerCPUMicrosPerRec is the broker process's CPU time over the whole
	// child run (warm-up included) per record sent; the parent fills it in.
	BrokerCPUMicrosPerRec float64 `json:"broker_cpu_us_per_record,omitempty"`
}

// childConfig is what the parent tells a child run.
type childConfig struct {
	lib            string
	workload       workload
	brokers        []string
	topic          string
	partitions     int
	records        int64
	warmup         int64
	timeout        time.Duration
	sampleEvery    int64             // time one record in this many
	kprodProps     map[string]string // extra kprod settings (Java names)
	cpuProfile     string
	memProfile     string
	memProfileRate int
}

// runChildMode measures one library on one workload and prints the result line.
func runChildMode(cfg childConfig, stdout io.Writer) error {
	loadgen.SetMemProfileRate(cfg.memProfileRate)
	measureFn := measure
	if cfg.lib == libCeiling {
		measureFn = measureCeiling
	}
	r, err := measureFn(cfg)
	if err != nil {
		return err
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s%s\n", resultPrefix, line)
	return err
}

// measure runs the warm-up and the measured phase and returns the figures.
func measure(cfg childConfig) (*result, error) {
	// The values are the harness's; the RSS growth counted is the library's.
	values := makeValues(cfg.workload.valueSize)
	startRSS, err := procStatusKiB("VmRSS")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	gen := loadgen.New()
	d, err := newDriver(cfg.lib, driverConfig{w: cfg.workload, brokers: cfg.brokers, topic: cfg.topic, partitions: cfg.partitions,
		gen: gen, kprodProps: cfg.kprodProps, values: values, keys: makeKeys(cfg.workload.keys)})
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = d.close(cctx)
			ccancel()
		}
	}()
	load := loadgen.Load{Rate: cfg.workload.rate, TimeEvery: cfg.sampleEvery}
	send := func(i int64, s *loadgen.Slot) { d.send(ctx, i, s) }
	// Warm-up: connections, metadata, producer id, pools and the slot list.
	if cfg.warmup > 0 {
		warm := loadgen.NewTally(cfg.warmup)
		if err := gen.Run(ctx, warm, load, send); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if n := warm.Errors(); n > 0 {
			return nil, fmt.Errorf("warm-up: %d records failed, the first with: %v", n, warm.FirstErr())
		}
	}
	recs0, batches0, reqs0 := d.counts()
	slots0 := gen.SlotsMade()
	slotObjects, slotBytes := loadgen.SlotCost()
	runtime.GC()

	stopProfile, err := loadgen.StartCPUProfile(cfg.cpuProfile)
	if err != nil {
		return nil, err
	}
	t := loadgen.NewTally(cfg.records)
	before, err := takeSample()
	if err != nil {
		stopProfile()
		return nil, err
	}
	sendErr := gen.Run(ctx, t, load, send)
	after, err := takeSample()
	stopProfile()
	if err != nil {
		return nil, err
	}
	if sendErr != nil {
		return nil, sendErr
	}
	recs1, batches1, reqs1 := d.counts()
	// Slots made while measuring (more records timed at once than in the
	// warm-up) are the harness's allocations, not the client's.
	slotsMade := float64(gen.SlotsMade() - slots0)
	after.mallocs -= uint64(slotsMade * slotObjects)
	after.bytes -= uint64(slotsMade * slotBytes)

	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	cerr := d.close(cctx)
	ccancel()
	closed = true
	if cerr != nil {
		return nil, fmt.Errorf("close: %w", cerr)
	}
	peak, err := procStatusKiB("VmHWM")
	if err != nil {
		return nil, err
	}
	if err := loadgen.WriteMemProfile(cfg.memProfile); err != nil {
		return nil, err
	}

	n := float64(cfg.records)
	secs := after.at.Sub(before.at).Seconds()
	r := &result{
		Lib: cfg.lib, Workload: cfg.workload.name, Records: cfg.records, Warmup: cfg.warmup, Errors: t.Errors(),
		Seconds:         secs,
		RecordsPerSec:   n / secs,
		CPUMicrosPerRec: float64(after.cpu-before.cpu) / 1e3 / n,
		AllocsPerRec:    float64(after.mallocs-before.mallocs) / n,
		BytesPerRec:     float64(after.bytes-before.bytes) / n,
		GCs:             after.gcs - before.gcs,
		Sampled:         (cfg.records + max(cfg.sampleEvery, 1) - 1) / max(cfg.sampleEvery, 1),
		P50Ms:           float64(t.Quantile(0.50)) / 1e6,
		P99Ms:           float64(t.Quantile(0.99)) / 1e6,
		MaxMs:           float64(t.MaxLatency()) / 1e6,
		StartRSSKiB:     startRSS,
		PeakRSSKiB:      peak,
	}
	if b := batches1 - batches0; b > 0 {
		r.RecordsPerBatch = float64(recs1-recs0) / float64(b)
	}
	if q := reqs1 - reqs0; q > 0 {
		r.RecordsPerRequest = float64(recs1-recs0) / float64(q)
	}
	if err := t.FirstErr(); err != nil {
		r.FirstErr = err.Error()
	}
	return r, nil
}

// parseResult reads a child's result line and checks it makes sense.
func parseResult(line string) (result, error) {
	var r result
	body, ok := strings.CutPrefix(strings.TrimSpace(line), strings.TrimSpace(resultPrefix))
	if !ok {
		return r, fmt.Errorf("%w: no %q prefix", errBadResult, strings.TrimSpace(resultPrefix))
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return r, fmt.Errorf("%w: %w", errBadResult, err)
	}
	if err := r.check(); err != nil {
		return result{}, err
	}
	return r, nil
}

// check rejects results no child would produce.
func (r *result) check() error {
	if !isLibrary(r.Lib) {
		return fmt.Errorf("%w: library %q", errBadResult, r.Lib)
	}
	if _, err := findWorkload(r.Workload); err != nil {
		return fmt.Errorf("%w: %w", errBadResult, err)
	}
	if r.Records <= 0 || r.Warmup < 0 || r.Errors < 0 || r.Errors > r.Records {
		return fmt.Errorf("%w: %d records, %d errors", errBadResult, r.Records, r.Errors)
	}
	for _, f := range []float64{r.Seconds, r.RecordsPerSec, r.CPUMicrosPerRec, r.AllocsPerRec, r.BytesPerRec,
		r.P50Ms, r.P99Ms, r.MaxMs, r.RecordsPerBatch, r.BrokerCPUMicrosPerRec} {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%w: figure %v", errBadResult, f)
		}
	}
	if r.Seconds == 0 || r.StartRSSKiB < 0 || r.PeakRSSKiB < 0 {
		return fmt.Errorf("%w: zero duration or negative memory", errBadResult)
	}
	return nil
}

// isLibrary reports whether name is a compared client.
func isLibrary(name string) bool {
	for _, l := range reportOrder {
		if l == name {
			return true
		}
	}
	return false
}
