package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

func mustWorkload(t *testing.T, name string) workload {
	t.Helper()
	w, err := findWorkload(name)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWorkloads checks the workloads' settings: every one at batch.size
// 16 KiB but e (64 KiB), f keyed over its own 12 partitions.
func TestWorkloads(t *testing.T) {
	for _, w := range workloads {
		want := defaultBatchSize
		if w.name == "e" {
			want = 64 << 10
		}
		if w.batchSize != want {
			t.Errorf("%s: batch.size %d, want %d", w.name, w.batchSize, want)
		}
	}
	f := mustWorkload(t, "f")
	if f.keys != 1000 || f.topicPartitions(3) != 12 || f.topicName("bench") != "bench-p12" {
		t.Errorf("f: %d keys, %d partitions, topic %q", f.keys, f.topicPartitions(3), f.topicName("bench"))
	}
	if a := mustWorkload(t, "a"); a.topicPartitions(5) != 5 || a.topicName("bench") != "bench" {
		t.Errorf("a follows -partitions: %d, %q", a.topicPartitions(5), a.topicName("bench"))
	}
	keys := makeKeys(1000)
	if len(keys) != 1000 || string(keys[0]) != "0" || string(keys[999]) != "999" || makeKeys(0) != nil {
		t.Errorf("makeKeys: %d keys, first %q", len(keys), keys[0])
	}
	cfg := driverConfig{values: [][]byte{[]byte("v0"), []byte("v1")}, keys: keys[:3]}
	if k, v := cfg.record(4); string(k) != "1" || string(v) != "v0" {
		t.Errorf("record(4) = %q, %q", k, v)
	}
	if k, _ := (&driverConfig{values: cfg.values}).record(1); k != nil {
		t.Errorf("unkeyed record has key %q", k)
	}
}

// TestSaramaConfig checks the workload's settings reach sarama: acks=all,
// idempotence with its one request in flight, batch size, linger, codec.
func TestSaramaConfig(t *testing.T) {
	b := mustWorkload(t, "b")
	c, err := saramaConfig(driverConfig{w: b, partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.Producer.RequiredAcks != sarama.WaitForAll || !c.Producer.Idempotent || c.Net.MaxOpenRequests != 1 {
		t.Errorf("acks %v, idempotent %v, in flight %d", c.Producer.RequiredAcks, c.Producer.Idempotent, c.Net.MaxOpenRequests)
	}
	if c.Producer.MaxMessageBytes != 16<<10 || c.Producer.Flush.Bytes != 3*16<<10 || c.Producer.Flush.Frequency != 5*time.Millisecond {
		t.Errorf("batch %d, flush bytes %d, frequency %v", c.Producer.MaxMessageBytes, c.Producer.Flush.Bytes, c.Producer.Flush.Frequency)
	}
	if c.Producer.Compression != sarama.CompressionLZ4 || !c.Producer.Return.Successes || !c.Producer.Return.Errors {
		t.Errorf("codec %v, returns %v %v", c.Producer.Compression, c.Producer.Return.Successes, c.Producer.Return.Errors)
	}
	d, err := saramaConfig(driverConfig{w: mustWorkload(t, "d"), partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if d.Producer.Flush.Bytes != 0 || d.Producer.Flush.Frequency != 0 || d.Producer.Compression != sarama.CompressionNone {
		t.Errorf("linger 0: flush bytes %d, frequency %v, codec %v", d.Producer.Flush.Bytes, d.Producer.Flush.Frequency, d.Producer.Compression)
	}
	if _, err := saramaConfig(driverConfig{w: workload{codec: "brotli", batchSize: 1}}); err == nil {
		t.Error("an unknown codec was accepted")
	}
}

// TestSegmentioWriter checks the workload's settings reach kafka-go's Writer.
func TestSegmentioWriter(t *testing.T) {
	c := mustWorkload(t, "c")
	w, err := segmentioWriter(driverConfig{w: c, brokers: []string{"127.0.0.1:1"}, topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if w.RequiredAcks != kafka.RequireAll || !w.Async || w.BatchBytes != 16<<10 || w.BatchSize != 163 ||
		w.BatchTimeout != 5*time.Millisecond || w.Compression != compress.Zstd || w.Topic != "t" {
		t.Errorf("writer %+v", w)
	}
	if _, ok := w.Balancer.(*kafka.RoundRobin); !ok {
		t.Errorf("unkeyed balancer %T", w.Balancer)
	}
	f, _ := segmentioWriter(driverConfig{w: mustWorkload(t, "f"), brokers: []string{"127.0.0.1:1"}})
	if _, ok := f.Balancer.(kafka.Murmur2Balancer); !ok {
		t.Errorf("keyed balancer %T", f.Balancer)
	}
	d, _ := segmentioWriter(driverConfig{w: mustWorkload(t, "d"), brokers: []string{"127.0.0.1:1"}})
	if d.BatchTimeout != time.Microsecond || d.Compression != 0 {
		t.Errorf("linger 0: timeout %v, codec %v", d.BatchTimeout, d.Compression)
	}
}

// TestJavaArgs checks the perf tool's command line: sizes, rate, keys, and
// the producer properties last.
func TestJavaArgs(t *testing.T) {
	f := mustWorkload(t, "f")
	args := javaArgs(f, []string{"127.0.0.1:1", "127.0.0.1:2"}, "bench-p12", "/tmp/p.txt", 1000, 100, 0)
	line := strings.Join(args, " ")
	for _, want := range []string{
		javaMainClass + " --topic bench-p12 --num-records 1100 --warmup-records 100 --payload-file /tmp/p.txt --throughput -1 ",
		"--bootstrap-server 127.0.0.1:1,127.0.0.1:2",
		"--key-distribution range --record-key-range 1000",
		"--print-metrics",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("args lack %q: %s", want, line)
		}
	}
	i := slices.Index(args, "--command-property")
	if i < 0 {
		t.Fatalf("no --command-property: %s", line)
	}
	props := args[i+1:]
	for _, want := range []string{"acks=all", "enable.idempotence=true", "linger.ms=5", "batch.size=16384", "compression.type=none",
		"buffer.memory=33554432", "max.in.flight.requests.per.connection=5"} {
		if !slices.Contains(props, want) {
			t.Errorf("properties lack %q: %v", want, props)
		}
	}
	d := javaArgs(mustWorkload(t, "d"), []string{"h:1"}, "bench", "/p", 10, 1, 10000)
	if !slices.Contains(d, "10000") || slices.Contains(d, "--key-distribution") || !slices.Contains(d, "linger.ms=0") {
		t.Errorf("latency workload args: %v", d)
	}
}
