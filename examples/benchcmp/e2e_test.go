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
	"testing"
	"time"
)

// TestCompareEndToEnd builds the command and runs a tiny comparison: the
// broker process starts and is gone afterwards, every child reports, and the
// report has a row per metric with both libraries' figures.
func TestCompareEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := filepath.Join(t.TempDir(), "benchcmp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-runs", "1", "-records", "4000", "-warmup", "200", "-latency-seconds", "0.3",
		"-rate", "2000", "-workloads", "a,d", "-sample", "4", "-run-timeout", "60s", "-v")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		// Exit status 3 means targets were missed, which a tiny run may do.
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
			t.Fatalf("benchcmp: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
		}
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("benchcmp did not finish\nstderr:\n%s", &stderr)
	}

	m := regexp.MustCompile(`blackhole broker pid (\d+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no broker pid in stderr:\n%s", &stderr)
	}
	pid, _ := strconv.Atoi(m[1])
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("broker process %d still exists after benchcmp exited", pid)
	}

	out := stdout.String()
	for _, want := range []string{"machine: ", "| a 100 B, none, linger 5ms | records/s |",
		"| d 100 B at 10k/s, linger 0 | p99 latency ms |", "d kgo   records/s per run:"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "| a ") && !strings.HasPrefix(line, "| d ") {
			continue
		}
		rows++
		cells := strings.Split(line, "|")
		if len(cells) != 9 {
			t.Fatalf("row %q has %d cells", line, len(cells))
		}
		for _, c := range cells[3:5] { // kprod and kgo medians
			if _, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(c), ",", ""), 64); err != nil {
				t.Errorf("row %q: median %q is not a number", line, c)
			}
		}
	}
	latencyOnly := 0
	for _, m := range metrics {
		if !m.show {
			latencyOnly++
		}
	}
	// d shows every metric; a all but the latency-only ones.
	if want := 2*len(metrics) - latencyOnly; rows != want {
		t.Errorf("report has %d rows for a and d, want %d:\n%s", rows, want, out)
	}
}
