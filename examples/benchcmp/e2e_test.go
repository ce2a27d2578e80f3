package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
)

// The end-to-end tests build the command once and run tiny comparisons.
var built struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

func benchcmpBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "benchcmp-test-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "benchcmp")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.bin != "" {
		os.RemoveAll(filepath.Dir(built.bin))
	}
	os.Exit(code)
}

// runBenchcmp runs the built command with args, bounded by limit, and
// returns its report and log. Exit status 3 (targets missed) is a success:
// tiny runs may miss them.
func runBenchcmp(t *testing.T, limit time.Duration, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(benchcmpBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
			t.Fatalf("benchcmp %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, &out, &errOut)
		}
	case <-time.After(limit):
		_ = cmd.Process.Kill() // by its pid
		<-done
		t.Fatalf("benchcmp did not finish in %v\nstderr:\n%s", limit, &errOut)
	}
	return out.String(), errOut.String()
}

// checkBrokerGone checks the broker process named in the log has exited.
func checkBrokerGone(t *testing.T, stderr string) {
	t.Helper()
	m := regexp.MustCompile(`broker pid (\d+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no broker pid in stderr:\n%s", stderr)
	}
	if _, err := os.Stat("/proc/" + m[1]); err == nil {
		t.Errorf("broker process %s still exists after benchcmp exited", m[1])
	}
}

// checkTable checks a workload's table has a number for every client
// on records/s and CPU µs/record.
func checkTable(t *testing.T, report, workload string, libs []string) {
	t.Helper()
	i := strings.Index(report, "### "+workload+" ")
	if i < 0 {
		t.Fatalf("no table for %s:\n%s", workload, report)
	}
	table := report[i:]
	if j := strings.Index(table[4:], "### "); j >= 0 {
		table = table[:j+4]
	}
	header := "| metric | " + strings.Join(libs, " | ") + " |"
	if !strings.Contains(table, header) {
		t.Fatalf("table of %s lacks header %q:\n%s", workload, header, table)
	}
	for _, row := range []string{"records/s", "CPU µs/record"} {
		k := strings.Index(table, "| "+row+" |")
		if k < 0 {
			t.Fatalf("table of %s has no %s row:\n%s", workload, row, table)
		}
		line := table[k:]
		line = line[:strings.IndexByte(line, '\n')]
		cells := strings.Split(strings.Trim(line, "| "), " | ")[1:]
		if len(cells) != len(libs) {
			t.Fatalf("%s row %q has %d cells, want %d", row, line, len(cells), len(libs))
		}
		for c, cell := range cells {
			num, _, _ := strings.Cut(cell, " (")
			v, err := strconv.ParseFloat(strings.ReplaceAll(num, ",", ""), 64)
			if err != nil || v <= 0 {
				t.Errorf("%s %s of %s is %q", workload, row, libs[c], cell)
			}
		}
	}
}

// TestCompareGoClients runs every Go client and the ceiling on the kfake
// broker, throughput, latency and keyed: each child reports, the broker
// process is gone afterwards, and the chart is written.
func TestCompareGoClients(t *testing.T) {
	libs := []string{libKprod, libKgo, libSarama, libSegmentio}
	if rdkafkaBuilt {
		libs = append(libs, libRdkafka)
	}
	libs = append(libs, libCeiling)
	svg := filepath.Join(t.TempDir(), "chart.svg")
	out, errOut := runBenchcmp(t, 3*time.Minute, "-runs", "1", "-latency-runs", "1", "-records", "4000", "-warmup", "400",
		"-latency-seconds", "0.3", "-rate", "2000", "-workloads", "a,d,f", "-sample", "4", "-run-timeout", "60s",
		"-libs", strings.Join(libs, ","), "-svg", svg, "-v")
	checkBrokerGone(t, errOut)
	for _, w := range []string{"a", "d", "f"} {
		checkTable(t, out, w, libs)
	}
	for _, want := range []string{"machine: ", "broker: one kfake broker", "| p99 latency ms |", "(batch.size 16 KiB, 12 partitions in the topic of this run)",
		"d segmentio  records/s per run:", "| records/s ≥ 1.5× kgo's | a |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(svg); err != nil || !bytes.Contains(b, []byte(`class="bar"`)) {
		t.Errorf("chart: %v, %d bytes", err, len(b))
	}
}

// requireJava skips (or, under CI, fails) a test that needs the Kafka jars
// and Java, as internal/kafkatest does for real Kafka.
func requireJava(t *testing.T) {
	t.Helper()
	kafkatest.RequireKafka(t)
	if err := javaAvailable(); err != nil {
		if kafkatest.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestCompareJava runs the Java producer through ProducerPerformance on the
// kfake broker, beside kprod.
func TestCompareJava(t *testing.T) {
	requireJava(t)
	out, errOut := runBenchcmp(t, 3*time.Minute, "-runs", "1", "-records", "200000", "-warmup", "100000",
		"-workloads", "a", "-libs", "kprod,java", "-run-timeout", "60s", "-broker-warmup=false")
	checkBrokerGone(t, errOut)
	checkTable(t, out, "a", []string{libKprod, libJava})
	if !strings.Contains(out, "| allocs/record | ") || !strings.Contains(out, "a java       records/s per run:") {
		t.Errorf("report:\n%s", out)
	}
}

// TestCompareRealKafka runs kprod and the ceiling on a real Kafka node: the
// broker starts, the ceiling's pre-stamped sequences are accepted, and the
// node is stopped by its pid afterwards.
func TestCompareRealKafka(t *testing.T) {
	kafkatest.RequireKafka(t)
	if testing.Short() {
		t.Skip("starts Apache Kafka")
	}
	out, errOut := runBenchcmp(t, 4*time.Minute, "-broker", "kafka", "-runs", "1", "-records", "20000", "-warmup", "2000",
		"-workloads", "c", "-libs", "kprod,ceiling", "-run-timeout", "60s")
	checkBrokerGone(t, errOut)
	checkTable(t, out, "c", []string{libKprod, libCeiling})
	if !strings.Contains(out, "broker: one Apache Kafka") || !strings.Contains(out, "| records/s ≥ kgo's | c | kgo did not run | not measured |") {
		t.Errorf("report:\n%s", out)
	}
}
