package producer

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestUnkeyedRecordsStickThenSpread(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(6, "sticky"))
	bc := countBatches(c)
	p := newTestProducer(t, c, WithLinger(10*time.Millisecond), WithBatchSize(4096))
	ctx := ctxTimeout(t, 30*time.Second)
	l := newLedger(t)
	counts := make([]int, 6)
	var mu sync.Mutex
	for i := 0; i < 6000; i++ {
		rec := l.record("sticky", i)
		rec.Value = append(rec.Value, '|')
		rec.Value = append(rec.Value, make([]byte, 90)...)
		cb := l.callback(i)
		p.Send(ctx, rec, func(md RecordMetadata, err error) {
			mu.Lock()
			counts[md.Partition]++
			mu.Unlock()
			cb(md, err)
		})
	}
	l.wait(30 * time.Second)
	for part, n := range counts {
		if n < 300 {
			t.Fatalf("partition %d got %d of 6000 unkeyed records: %v", part, n, counts)
		}
	}
	// Sticky: records arrive in batches of about batch.size, not one by one.
	batches, _ := bc.snapshot()
	if avg := 6000 / len(batches); avg < 20 {
		t.Fatalf("%d batches, %d records each on average: not sticky", len(batches), avg)
	}
	l.checkLog(consume(t, c, "sticky", 6000))
}

func TestSlowCallbackDoesNotStallSends(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "slowcb"))
	p := newTestProducer(t, c)
	ctx := ctxTimeout(t, 30*time.Second)
	release := make(chan struct{})
	done := make(chan struct{})
	p.Send(ctx, &Record{Topic: "slowcb", Value: []byte("blocked")}, func(RecordMetadata, error) {
		<-release // a callback stuck for as long as the test wants
		close(done)
	})
	// Futures, flushes of other records and the network path carry on.
	start := time.Now()
	for i := 0; i < 50; i++ {
		if _, err := p.SendSync(ctx, &Record{Topic: "slowcb", Value: []byte("next")}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("50 sync sends took %v behind a stuck callback", d)
	}
	close(release)
	<-done
}

func TestPartitionCountGrowthIsPickedUp(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "grow"))
	p := newTestProducer(t, c, WithMetadataMaxAge(100*time.Millisecond), WithLinger(time.Millisecond), WithBatchSize(512))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "grow", Value: []byte("v-0")}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "grow", 4
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create partitions: %v %v", err, resp)
	}
	// Unkeyed records spread over the new partitions too once metadata is refreshed.
	seen := map[int32]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for i := 1; len(seen) < 4 && time.Now().Before(deadline); i++ {
		md, err := p.SendSync(ctx, &Record{Topic: "grow", Value: make([]byte, 100)})
		if err != nil {
			t.Fatal(err)
		}
		seen[md.Partition] = true
	}
	if !seen[2] || !seen[3] {
		t.Fatalf("records went only to %v after the topic grew to 4 partitions", seen)
	}
	parts, err := p.PartitionsFor(ctx, "grow")
	if err != nil || len(parts) != 4 {
		t.Fatalf("PartitionsFor: %d partitions, %v", len(parts), err)
	}
}
