package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
)

// The Java producer is measured through Kafka's own perf tool,
// org.apache.kafka.tools.ProducerPerformance (kafka-producer-perf-test),
// run from the cached jars as the child process itself. It sends the same
// value corpus (--payload-file, one value a line; it picks values at
// random), with a callback per record that times every record, and the
// workload's settings as producer properties. Its figures come from two
// places:
//
//   - its output: the steady-state summary line (the records after
//     --warmup-records) gives records/s and the latency percentiles, which
//     it prints in whole milliseconds;
//   - the process: CPU time is read from /proc/<pid>/stat when the tool
//     prints "In steady state." (at the first progress report, every
//     100 ms, after the warm-up's last record) and again when it prints its
//     summary, and charged to the records answered in between (the total
//     less those its progress lines counted up to the marker), so neither
//     the JVM's start nor the warm-up's JIT compilation is in the figure;
//     peak RSS is the child's rusage maximum.
//
// Allocations are not counted (the JVM's are not Go's).

// javaMainClass is the perf tool's class.
const javaMainClass = "org.apache.kafka.tools.ProducerPerformance"

// errJavaOutput means the perf tool's output lacked a line we need.
var errJavaOutput = errors.New("benchcmp: ProducerPerformance output")

// javaSummary is one summary line of ProducerPerformance.
type javaSummary struct {
	steady        bool // the steady-state line (after the warm-up)
	records       int64
	recordsPerSec float64
	avgMs, maxMs  float64
	p50, p95, p99 float64 // ms (whole)
	p999          float64
}

// javaProgressRE matches a progress line: the records answered in one
// reporting window.
var javaProgressRE = regexp.MustCompile(`^(\d+) records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency\.$`)

var javaSummaryRE = regexp.MustCompile(`^(\d+) (steady state )?records sent, ([\d.]+) records/sec \([\d.]+ MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$`)

// parseJavaSummary reads a summary line; ok is false for any other line
// (progress lines lack the percentiles).
func parseJavaSummary(line string) (s javaSummary, ok bool) {
	m := javaSummaryRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return s, false
	}
	var err error
	num := func(t string) float64 {
		v, e := strconv.ParseFloat(t, 64)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	s.records, err = strconv.ParseInt(m[1], 10, 64)
	s.steady = m[2] != ""
	s.recordsPerSec = num(m[3])
	s.avgMs, s.maxMs = num(m[4]), num(m[5])
	s.p50, s.p95, s.p99, s.p999 = num(m[6]), num(m[7]), num(m[8]), num(m[9])
	return s, err == nil && s.records > 0 && s.recordsPerSec > 0
}

// javaRequestRE matches the producer metric of records per produce request
// (--print-metrics prints it at the end; an average over the metric's
// sample window, the last minute of the run).
var javaRequestRE = regexp.MustCompile(`^producer-metrics:records-per-request-avg:\{[^}]*\}\s*:\s*([\d.]+)$`)

// javaSteadyMarker is the line the tool prints when the warm-up ends.
const javaSteadyMarker = "In steady state."

// javaProps are the producer properties of workload w, Java names.
func javaProps(w workload) []string {
	return []string{
		"acks=all",
		"enable.idempotence=true",
		"max.in.flight.requests.per.connection=5",
		"linger.ms=" + strconv.FormatInt(w.linger.Milliseconds(), 10),
		"batch.size=" + strconv.Itoa(w.batchSize),
		"compression.type=" + w.codec,
		"buffer.memory=" + strconv.Itoa(bufferMemory),
		"client.id=benchcmp",
	}
}

// javaArgs is the perf tool's command line (after the JVM's flags) for a
// run of records records after warmup ones.
func javaArgs(w workload, brokers []string, topic, payload string, records, warmup int64, rate float64) []string {
	throughput := "-1"
	if rate > 0 {
		throughput = strconv.FormatFloat(rate, 'f', -1, 64)
	}
	args := []string{javaMainClass,
		"--topic", topic,
		"--num-records", strconv.FormatInt(records+warmup, 10),
		"--warmup-records", strconv.FormatInt(warmup, 10),
		"--payload-file", payload,
		"--throughput", throughput,
		"--reporting-interval", "100",
		"--print-metrics", // for records-per-request-avg
		"--bootstrap-server", joinAddrs(brokers),
	}
	if w.keys > 0 {
		args = append(args, "--key-distribution", "range", "--record-key-range", strconv.Itoa(w.keys))
	}
	// The property list takes every argument after it: last.
	return append(append(args, "--command-property"), javaProps(w)...)
}

// javaBin is $JAVA_HOME/bin/java when it exists, else java on PATH.
func javaBin() (string, error) {
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		if p := filepath.Join(jh, "bin", "java"); fileExists(p) {
			return p, nil
		}
	}
	return exec.LookPath("java")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// javaAvailable says why the Java producer cannot run here, nil if it can.
func javaAvailable() error {
	if _, err := kafkatest.Lib(); err != nil {
		return err
	}
	_, err := javaBin()
	return err
}

// writePayloadFile writes the values of size bytes, one a line, into dir
// and returns the file's path. Values never hold a newline.
func writePayloadFile(dir string, size int) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("payload-%d.txt", size))
	if fileExists(path) {
		return path, nil
	}
	var b bytes.Buffer
	for _, v := range makeValues(size) {
		if bytes.IndexByte(v, '\n') >= 0 {
			return "", fmt.Errorf("benchcmp: a value holds a newline")
		}
		b.Write(v)
		b.WriteByte('\n')
	}
	return path, os.WriteFile(path, b.Bytes(), 0o644)
}

// runJava runs the perf tool once as the child and returns its result.
func runJava(ctx context.Context, dir string, w workload, brokers []string, topic string, records, warmup int64, rate float64, timeout time.Duration) (result, error) {
	lib, err := kafkatest.Lib()
	if err != nil {
		return result{}, err
	}
	bin, err := javaBin()
	if err != nil {
		return result{}, err
	}
	payload, err := writePayloadFile(dir, w.valueSize)
	if err != nil {
		return result{}, err
	}
	log4j := filepath.Join(dir, "log4j2-perf.properties")
	if err := os.WriteFile(log4j, []byte("status = warn\nappender.err.type = Console\nappender.err.name = ERR\nappender.err.target = SYSTEM_ERR\n"+
		"appender.err.layout.type = PatternLayout\nappender.err.layout.pattern = [%d] %p %m (%c)%n\nrootLogger.level = WARN\nrootLogger.appenderRef.err.ref = ERR\n"), 0o644); err != nil {
		return result{}, err
	}
	jvm := []string{"-Xmx512M", "-Xms512M", "-XX:+UseG1GC", "-Djava.awt.headless=true", "-Duser.language=en", "-Duser.country=US",
		"-Dlog4j2.configurationFile=" + log4j, "-cp", lib + string(os.PathSeparator) + "*"}
	cmd := exec.Command(bin, append(jvm, javaArgs(w, brokers, topic, payload, records, max(warmup, 1), rate)...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no JVM outlives benchcmp
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	pid := cmd.Process.Pid
	stopped := make(chan struct{})
	go func() { // bound the run; the JVM is ended by its pid
		select {
		case <-stopped:
		case <-ctx.Done():
			_ = cmd.Process.Kill()
		case <-time.After(timeout):
			_ = cmd.Process.Kill()
		}
	}()
	r, perr := readJavaOutput(out, func() (time.Duration, error) { return processCPU(pid) })
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	close(stopped)
	if werr != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", javaMainClass, werr, strings.TrimSpace(errOut.String()))
	}
	if perr != nil {
		return result{}, fmt.Errorf("%w\n%s", perr, strings.TrimSpace(errOut.String()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSKiB = ru.Maxrss // KiB on Linux
	}
	r.Workload, r.Warmup = w.name, max(warmup, 1)
	return r, r.check()
}

// readJavaOutput follows the perf tool's output: cpu is sampled at the end
// of the warm-up and at the first summary line; the steady-state summary
// gives the rest.
func readJavaOutput(out io.Reader, cpu func() (time.Duration, error)) (result, error) {
	var cpu0, cpu1 time.Duration
	var seenSteady, seenTotal bool
	var steady, total javaSummary
	var haveSteady bool
	// answered counts the records of the progress lines so far; atMarker
	// is it through the window the marker closed (the line after it).
	var answered, atMarker int64
	awaitWindow := false
	perRequest := 0.0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == javaSteadyMarker && !seenSteady {
			seenSteady, awaitWindow = true, true
			c, err := cpu()
			if err != nil {
				return result{}, err
			}
			cpu0 = c
			continue
		}
		if m := javaRequestRE.FindStringSubmatch(line); m != nil {
			perRequest, _ = strconv.ParseFloat(m[1], 64)
			continue
		}
		if m := javaProgressRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			answered += n
			if awaitWindow {
				atMarker, awaitWindow = answered, false
			}
			continue
		}
		s, ok := parseJavaSummary(line)
		if !ok {
			continue
		}
		if !s.steady && !seenTotal {
			seenTotal, total = true, s
			c, err := cpu()
			if err != nil {
				return result{}, err
			}
			cpu1 = c
		}
		if s.steady {
			steady, haveSteady = s, true
		}
	}
	if err := sc.Err(); err != nil {
		return result{}, err
	}
	if !seenSteady || !seenTotal || !haveSteady {
		return result{}, fmt.Errorf("%w: steady-state marker %v, summary %v, steady-state summary %v (a run shorter than the tool's 100 ms progress window has no marker)",
			errJavaOutput, seenSteady, seenTotal, haveSteady)
	}
	if awaitWindow {
		atMarker = answered // the marker came with the last window
	}
	timed := total.records - atMarker
	if timed <= 0 {
		return result{}, fmt.Errorf("%w: no record answered after the steady-state marker", errJavaOutput)
	}
	return result{
		Lib:             libJava,
		Records:         steady.records,
		Seconds:         float64(steady.records) / steady.recordsPerSec,
		RecordsPerSec:   steady.recordsPerSec,
		CPUMicrosPerRec: float64(cpu1-cpu0) / 1e3 / float64(timed),
		Sampled:         steady.records,
		P50Ms:           steady.p50,
		P99Ms:           steady.p99,
		MaxMs:           steady.maxMs,

		RecordsPerRequest: perRequest,
	}, nil
}
