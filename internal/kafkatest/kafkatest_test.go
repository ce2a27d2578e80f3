package kafkatest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
)

// produceKgo writes recs with franz-go's producer and returns them as the
// broker placed them.
func produceKgo(t *testing.T, addrs []string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// sampleRecords covers what the readers must tell apart: null and empty
// keys and values, headers with null and empty values, explicit timestamps.
func sampleRecords(topic string) []*kgo.Record {
	ts := time.UnixMilli(1_700_000_000_123)
	return []*kgo.Record{
		{Topic: topic, Partition: 0, Key: []byte("k1"), Value: []byte("v1"), Timestamp: ts,
			Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("a")}, {Key: "h2", Value: []byte{}}, {Key: "h3"}}},
		{Topic: topic, Partition: 0, Key: nil, Value: []byte("null key"), Timestamp: ts.Add(time.Second)},
		{Topic: topic, Partition: 1, Key: []byte{}, Value: nil, Timestamp: ts.Add(2 * time.Second)},
		{Topic: topic, Partition: 1, Key: []byte("null"), Value: []byte("key is the text null"), Timestamp: ts.Add(3 * time.Second)},
	}
}

// checkSame compares what a reader returned with what was written.
func checkSame(t *testing.T, reader string, want []*kgo.Record, got []kafkatest.ConsoleRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s read %d records, want %d", reader, len(got), len(want))
	}
	for _, w := range want {
		i := slices.IndexFunc(got, func(g kafkatest.ConsoleRecord) bool {
			return g.Partition == w.Partition && g.Offset == w.Offset
		})
		if i < 0 {
			t.Fatalf("%s: no record at %d/%d", reader, w.Partition, w.Offset)
		}
		g := got[i]
		if (g.Key == nil) != (w.Key == nil) || !bytes.Equal(g.Key, w.Key) {
			t.Errorf("%s %d/%d: key %q, want %q", reader, w.Partition, w.Offset, g.Key, w.Key)
		}
		if (g.Value == nil) != (w.Value == nil) || !bytes.Equal(g.Value, w.Value) {
			t.Errorf("%s %d/%d: value %q, want %q", reader, w.Partition, w.Offset, g.Value, w.Value)
		}
		if g.Timestamp != w.Timestamp.UnixMilli() || g.TimestampType != "CreateTime" {
			t.Errorf("%s %d/%d: timestamp %s:%d, want CreateTime:%d", reader, w.Partition, w.Offset, g.TimestampType, g.Timestamp, w.Timestamp.UnixMilli())
		}
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("%s %d/%d: headers %v, want %v", reader, w.Partition, w.Offset, g.Headers, w.Headers)
		}
		for j, h := range w.Headers {
			gh := g.Headers[j]
			if gh.Key != h.Key || (gh.Value == nil) != (h.Value == nil) || !bytes.Equal(gh.Value, h.Value) {
				t.Errorf("%s %d/%d: header %d is %q=%q, want %q=%q", reader, w.Partition, w.Offset, j, gh.Key, gh.Value, h.Key, h.Value)
			}
		}
	}
}

// asConsole turns kgo records into ConsoleRecords for checkSame.
func asConsole(recs []*kgo.Record) []kafkatest.ConsoleRecord {
	var out []kafkatest.ConsoleRecord
	for _, r := range recs {
		c := kafkatest.ConsoleRecord{Partition: r.Partition, Offset: r.Offset, TimestampType: "CreateTime",
			Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
		if r.Attrs.TimestampType() == 1 {
			c.TimestampType = "LogAppendTime"
		}
		for _, h := range r.Headers {
			c.Headers = append(c.Headers, kafkatest.ConsoleHeader{Key: h.Key, Value: h.Value})
		}
		out = append(out, c)
	}
	return out
}

// exercise runs the checks every engine must pass: topics, read-back, and a
// broker that goes away and comes back.
func exercise(t *testing.T, c kafkatest.Cluster, console bool) {
	topic := kafkatest.TopicName(t)
	c.CreateTopic(t, topic, 2, 0, map[string]string{"max.message.bytes": "100000"})
	want := sampleRecords(topic)
	produceKgo(t, c.Addrs(), want)
	checkSame(t, "kgo", want, asConsole(kafkatest.ReadRecords(t, c.Addrs(), topic, len(want), kafkatest.ReadOptions{})))
	if ends := kafkatest.EndOffsets(t, c.Addrs(), topic, 2); !slices.Equal(ends, []int64{2, 2}) {
		t.Fatalf("end offsets %v, want [2 2]", ends)
	}
	if console {
		checkSame(t, "console consumer", want, kafkatest.ConsoleConsume(t, c.Addrs(), topic, len(want), kafkatest.ConsoleOptions{}))
	}
	checkInspect(t, c, topic)

	// The first broker: kfake's controller is its last one, which it
	// cannot stop (see Fake.StopBroker).
	victim := c.BrokerIDs()[0]
	step := func(name string, f func(testing.TB, int32)) {
		start := time.Now()
		f(t, victim)
		t.Logf("%s broker %d: %v", name, victim, time.Since(start).Round(time.Millisecond))
	}
	step("stop", c.StopBroker)
	step("restart", c.RestartBroker)
	step("kill", c.KillBroker)
	step("restart", c.RestartBroker)
	more := []*kgo.Record{{Topic: topic, Partition: 0, Value: []byte("after restart"), Timestamp: time.UnixMilli(1)}}
	produceKgo(t, c.Addrs(), more)
	if got := kafkatest.ReadRecords(t, c.Addrs(), topic, len(want)+1, kafkatest.ReadOptions{}); len(got) != len(want)+1 {
		t.Fatalf("read %d records after the restarts, want %d", len(got), len(want)+1)
	}
}

// checkInspect reads topic (two partitions, two records each, written by
// kgo's idempotent producer) with the inspection helpers: its partitions
// and leaders, its batch headers with their sequence numbers, and offsets a
// group committed.
func checkInspect(t *testing.T, c kafkatest.Cluster, topic string) {
	ps := kafkatest.Partitions(t, c, topic)
	if len(ps) != 2 {
		t.Fatalf("Partitions: %+v", ps)
	}
	for _, p := range ps {
		if p.Leader < 0 || !slices.Contains(p.ISR, p.Leader) || kafkatest.Leader(t, c, topic, p.Partition) != p.Leader {
			t.Fatalf("partition %+v: leader %d", p, kafkatest.Leader(t, c, topic, p.Partition))
		}
		bs := kafkatest.Batches(t, c, topic, p.Partition)
		records := int32(0)
		for _, b := range bs {
			if b.ProducerID < 0 || b.Transactional || b.Control {
				t.Errorf("partition %d: batch %+v, want an idempotent data batch", p.Partition, b)
			}
			records += b.Records
		}
		if records != 2 {
			t.Errorf("partition %d: batches %+v hold %d records, want 2", p.Partition, bs, records)
		}
		if msg := kafkatest.CheckSequences(bs); msg != "" {
			t.Errorf("partition %d: %s", p.Partition, msg)
		}
	}
	group := topic + ".group"
	if got := kafkatest.CommittedOffsets(t, c, group, topic, 2); !slices.Equal(got, []int64{-1, -1}) {
		t.Fatalf("offsets of a group that committed none: %v", got)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1 // a simple (groupless) commit
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = topic, kafkatest.TopicID(t, c, topic) // v10+ names topics by id
	for p, o := range []int64{1, 2} {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = int32(p), o
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("OffsetCommit v%d %s/%d: %v", req.Version, rt.Topic, rp.Partition, err)
			}
		}
	}
	if got := kafkatest.CommittedOffsets(t, c, group, topic, 2); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("committed offsets %v, want [1 2]", got)
	}
}

// checkReadCommitted writes one committed and one aborted transaction with
// kgo's transactional producer and checks that the read_committed readers
// see the committed records only, and the read_uncommitted one all.
func checkReadCommitted(t *testing.T, c kafkatest.Cluster, console bool) {
	topic := kafkatest.TopicName(t)
	c.CreateTopic(t, topic, 1, 0, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.TransactionalID(topic), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, commit := range []bool{true, false} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprintf("committed=%v", commit)
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	committed := kafkatest.ReadRecords(t, c.Addrs(), topic, 2, kafkatest.ReadOptions{ReadCommitted: true, Settle: time.Second})
	if len(committed) != 2 || string(committed[0].Value) != "committed=true" || string(committed[1].Value) != "committed=true" {
		t.Fatalf("read_committed kgo read %d records: %v", len(committed), committed)
	}
	if all := kafkatest.ReadRecords(t, c.Addrs(), topic, 4, kafkatest.ReadOptions{}); len(all) != 4 {
		t.Fatalf("read_uncommitted kgo read %d records, want 4", len(all))
	}
	if console {
		got := kafkatest.ConsoleConsume(t, c.Addrs(), topic, 2, kafkatest.ConsoleOptions{ReadCommitted: true})
		for _, r := range got {
			if string(r.Value) != "committed=true" {
				t.Fatalf("read_committed console consumer read %q at offset %d", r.Value, r.Offset)
			}
		}
	}
	checkReadLog(t, c, topic, cl)
}

// checkReadLog reads topic, which holds a committed and an aborted
// transaction of two records each, with ReadLog, before and while cl (its
// transactional producer) has a third transaction open.
func checkReadLog(t *testing.T, c kafkatest.Cluster, topic string, cl *kgo.Client) {
	read := func(o kafkatest.LogOptions, within time.Duration) ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		recs, err := kafkatest.ReadLog(ctx, c.Addrs(), []string{topic}, o)
		var vs []string
		for _, r := range recs {
			vs = append(vs, string(r.Value))
		}
		return vs, err
	}
	two := func(v string) []string { return []string{v, v} }
	committed, aborted, open := two("committed=true"), two("committed=false"), []string{"open"}
	for _, tc := range []struct {
		name string
		o    kafkatest.LogOptions
		want []string
	}{
		{"read_uncommitted", kafkatest.LogOptions{}, slices.Concat(committed, aborted)},
		{"read_committed", kafkatest.LogOptions{ReadCommitted: true}, committed},
	} {
		if got, err := read(tc.o, 30*time.Second); err != nil || !slices.Equal(got, tc.want) {
			t.Fatalf("ReadLog %s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.Errorf("aborting the open transaction: %v", err)
		}
	}()
	if got, err := read(kafkatest.LogOptions{}, 30*time.Second); err != nil || !slices.Equal(got, slices.Concat(committed, aborted, open)) {
		t.Fatalf("ReadLog read_uncommitted with a transaction open: %q, %v", got, err)
	}
	if got, err := read(kafkatest.LogOptions{ReadCommitted: true, StopAtStable: true}, 30*time.Second); err != nil || !slices.Equal(got, committed) {
		t.Fatalf("ReadLog read_committed to the last stable offset: %q, %v; want %q", got, err, committed)
	}
	got, err := read(kafkatest.LogOptions{ReadCommitted: true}, 2*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not read to their end") || !slices.Equal(got, committed) {
		t.Fatalf("ReadLog read_committed to the high watermark past an open transaction: %q, %v; want the committed records and a timeout", got, err)
	}
}

func TestFake(t *testing.T) {
	c := kafkatest.NewFake(t, 3)
	if c.Engine() != kafkatest.EngineKfake || len(c.Addrs()) != 3 {
		t.Fatalf("engine %s, addrs %v", c.Engine(), c.Addrs())
	}
	exercise(t, c, false)
	checkReadCommitted(t, c, false)
}

func TestKafkaSingleNode(t *testing.T) {
	k := kafkatest.StartKafka(t, kafkatest.KafkaConfig{})
	if v := kafkatest.Finalized(t, k)["transaction.version"]; v != 2 {
		t.Errorf("transaction.version finalized at %d on a fresh 4.4 cluster, want 2", v)
	}
	exercise(t, k, true)
	checkReadCommitted(t, k, true)
	pids := k.Pids()
	k.Close()
	checkGone(t, pids)
}

func TestKafkaThreeBrokers(t *testing.T) {
	if testing.Short() {
		t.Skip("three JVMs: not in -short")
	}
	k := kafkatest.StartKafka(t, kafkatest.KafkaConfig{Brokers: 3})
	if len(k.Pids()) != 3 {
		t.Fatalf("pids %v", k.Pids())
	}
	topic := kafkatest.TopicName(t)
	k.CreateTopic(t, topic, 3, 3, map[string]string{"min.insync.replicas": "2"})
	write := func(n int) {
		var recs []*kgo.Record
		for p := range int32(3) {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d", n)})
		}
		produceKgo(t, k.Addrs(), recs)
	}
	write(1)
	// acks=all with one of three replicas gone: the ISR shrinks once the
	// controller fences the broker, and writes go on with two.
	start := time.Now()
	k.KillBroker(t, 3)
	write(2)
	t.Logf("written with broker 3 killed %v after the kill", time.Since(start).Round(time.Millisecond))
	k.RestartBroker(t, 3)
	k.CreateTopic(t, kafkatest.TopicName(t), 1, 3, nil) // the controller takes all three again
	if got := kafkatest.ReadRecords(t, k.Addrs(), topic, 6, kafkatest.ReadOptions{}); len(got) != 6 {
		t.Fatalf("read %d records, want 6", len(got))
	}
	if ends := kafkatest.EndOffsets(t, k.Addrs(), topic, 3); !slices.Equal(ends, []int64{2, 2, 2}) {
		t.Fatalf("end offsets %v, want [2 2 2]", ends)
	}
	pids := k.Pids()
	k.Close()
	checkGone(t, pids)
}

// checkGone fails unless every pid is gone (reaped, so kill(pid, 0) says
// there is no such process).
func checkGone(t *testing.T, pids []int) {
	t.Helper()
	if len(pids) == 0 {
		t.Fatal("no pids to check")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still there after Close (kill 0: %v)", pid, err)
		}
	}
}

func TestRequireKafkaSkipsWithSetupCommand(t *testing.T) {
	t.Setenv(kafkatest.EnvHome, t.TempDir())
	t.Setenv("CI", "")
	var msg string
	ft := &fakeTB{TB: t, skip: func(s string) { msg = s }}
	func() {
		defer func() { _ = recover() }()
		kafkatest.RequireKafka(ft)
	}()
	if !bytes.Contains([]byte(msg), []byte(kafkatest.SetupCommand)) {
		t.Fatalf("skip message %q does not name %s", msg, kafkatest.SetupCommand)
	}
}

// fakeTB records a Skip instead of skipping the real test.
type fakeTB struct {
	testing.TB
	skip func(string)
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip(fmt.Sprintf(format, args...))
	panic("skipped")
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.skip("FATAL " + fmt.Sprintf(format, args...))
	panic("fatal")
}

// TestStart runs on the engine KPROD_TEST_ENGINE names (kfake by default).
func TestStart(t *testing.T) {
	c := kafkatest.Start(t, 1)
	want := kafkatest.Engine(os.Getenv(kafkatest.EnvEngine))
	if want == "" {
		want = kafkatest.EngineKfake
	}
	if c.Engine() != want {
		t.Fatalf("engine %s, want %s", c.Engine(), want)
	}
	topic := kafkatest.TopicName(t)
	c.CreateTopic(t, topic, 2, 0, nil)
	recs := sampleRecords(topic)
	produceKgo(t, c.Addrs(), recs)
	checkSame(t, "kgo", recs, asConsole(kafkatest.ReadRecords(t, c.Addrs(), topic, len(recs), kafkatest.ReadOptions{})))
}

// TestKafkaFeatures: KafkaConfig.Features reach the storage tool, so a
// cluster can run classic transactions (transaction.version=0) where 4.x
// formats with transactions v2 (TestKafkaSingleNode checks that default).
func TestKafkaFeatures(t *testing.T) {
	k := kafkatest.StartKafka(t, kafkatest.KafkaConfig{Features: []string{"transaction.version=0"}})
	if v := kafkatest.Finalized(t, k)["transaction.version"]; v != 0 {
		t.Fatalf("transaction.version finalized at %d, want 0", v)
	}
}

func TestFakeRefusesToStopItsController(t *testing.T) {
	c := kafkatest.NewFake(t, 3)
	var msg string
	ft := &fakeTB{TB: t, skip: func(s string) { msg = s }}
	func() {
		defer func() { _ = recover() }()
		c.StopBroker(ft, 2) // kfake's controller: its last broker
	}()
	if !strings.Contains(msg, "controller") {
		t.Fatalf("stopping kfake's controller: %q, want a failure naming the controller", msg)
	}
	c.CreateTopic(t, kafkatest.TopicName(t), 1, 0, nil) // still works
}
