package producer_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// benchBrokerEnv, when set (to "topic:partitions"), makes this test binary
// the benchmarks' broker process instead of running tests.
const benchBrokerEnv = "KPROD_BENCH_BROKER"

// benchBrokerPrefix starts the line the broker process announces itself with.
const benchBrokerPrefix = "bench-broker "

// TestBenchBrokerProcess is not a test: the benchmarks re-execute the test
// binary to run it as their broker, a one-broker kfake cluster that
// acknowledges produce requests without storing records, in a process of its
// own so that the broker's CPU time and allocations are not counted as the
// producer's. It serves until its standard input closes.
func TestBenchBrokerProcess(t *testing.T) {
	spec := os.Getenv(benchBrokerEnv)
	if spec == "" {
		t.Skip("runs only as the benchmarks' broker process")
	}
	topic, n, ok := strings.Cut(spec, ":")
	partitions, err := strconv.Atoi(n)
	if !ok || err != nil || partitions < 1 {
		t.Fatalf("bad %s=%q", benchBrokerEnv, spec)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BlackholeProduce(), kfake.SeedTopics(int32(partitions), topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Printf("%s%s\n", benchBrokerPrefix, strings.Join(c.ListenAddrs(), ","))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startBenchBroker starts the broker process with topic (partitions
// partitions) and returns its addresses; it is killed, by its pid, when b ends.
func startBenchBroker(b *testing.B, topic string, partitions int) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchBrokerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", benchBrokerEnv, topic, partitions))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), benchBrokerPrefix); ok {
				lines <- line
			}
		}
		close(lines)
	}()
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	select {
	case line, ok := <-lines:
		if !ok {
			b.Fatal("the broker process exited without announcing itself")
		}
		return strings.Split(line, ",")
	case <-time.After(30 * time.Second):
		b.Fatal("the broker process did not start within 30s")
	}
	return nil
}
