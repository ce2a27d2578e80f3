package realkafka_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// TestSpoolOutageKafka stops the broker of a real Kafka node and sends
// eleven times buffer.memory of records while it is down, with the disk
// spool on (SyncAlways). No Send fails, the process's RSS stays within
// buffer.memory plus a constant, and once the node is back every record is
// in the log exactly once, in order per partition, read back by kgo.
func TestSpoolOutageKafka(t *testing.T) {
	k := cluster(t)
	const (
		topic     = "spool-outage"
		bufMem    = 4 << 20
		valueSize = 100
		warm      = 1_000
	)
	outage := 11 * bufMem / valueSize
	k.CreateTopic(t, topic, 3, 1, nil)
	p := newProducer(t, k, producer.WithBufferMemory(bufMem), producer.WithLinger(5*time.Millisecond),
		producer.WithMaxBlock(30*time.Second), producer.WithRequestTimeout(3*time.Second),
		producer.WithRetryBackoff(50*time.Millisecond, 500*time.Millisecond),
		producer.WithReconnectBackoff(50*time.Millisecond, 500*time.Millisecond),
		producer.WithSpool(t.TempDir(), producer.SpoolSync(producer.SyncAlways), producer.SpoolOutageAfter(500*time.Millisecond)))
	ctx := kafkatest.Context(t, 4*time.Minute)
	value := func(i int) []byte {
		v := []byte("v-" + strconv.Itoa(i) + "|")
		return append(v, bytes.Repeat([]byte{'x'}, valueSize-len(v))...)
	}
	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			f := p.Send(ctx, &producer.Record{Topic: topic, Value: value(i)}, nil)
			select {
			case <-f.Done():
				if _, err := f.Get(ctx); err != nil {
					t.Fatalf("Send of record %d failed at once: %v", i, err)
				}
			default:
			}
		}
	}
	send(0, warm)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k.StopBroker(t, 1)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			k.RestartBroker(t, 1) // the other tests of the package share the node
		}
	})
	mem := kafkatest.SampleMemory(t)
	start := time.Now()
	send(warm, warm+outage)
	took := time.Since(start)
	mem.End()
	m := p.Metrics()
	t.Logf("broker down: %d records (%.1fx buffer.memory) accepted in %v; %d batches and %d records spooled (%d MiB on disk); %v",
		outage, float64(outage*valueSize)/bufMem, took.Round(time.Millisecond), m.SpooledBatches, m.SpooledRecords, m.SpoolBytes>>20, mem)
	mem.CheckGrowth(t, bufMem+24<<20, "buffer.memory + 24 MiB")
	k.RestartBroker(t, 1)
	restarted = true
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	total := warm + outage
	m = p.Metrics()
	if m.RecordsSent != int64(total) || m.RecordsFailed != 0 {
		t.Fatalf("%d acknowledged and %d failed of %d records", m.RecordsSent, m.RecordsFailed, total)
	}
	read := kafkatest.ReadRecords(t, k.Addrs(), topic, total, kafkatest.ReadOptions{Timeout: time.Minute})
	seen := make([]bool, total)
	last := map[int32]int{}
	for _, r := range read {
		s, _, _ := strings.Cut(strings.TrimPrefix(string(r.Value), "v-"), "|")
		id, err := strconv.Atoi(s)
		if err != nil || id < 0 || id >= total {
			t.Fatalf("unexpected value %.20q", r.Value)
		}
		if seen[id] {
			t.Fatalf("record %d is in the log twice", id)
		}
		seen[id] = true
		if prev, ok := last[r.Partition]; ok && id < prev {
			t.Fatalf("partition %d: record %d after %d", r.Partition, id, prev)
		}
		last[r.Partition] = id
	}
	for id, ok := range seen {
		if !ok {
			t.Fatalf("record %d is not in the log", id)
		}
	}
	t.Logf("after the restart: %d spooled batches read back; %d records in the log, each once, in order per partition", m.SpoolReads, len(read))
}
