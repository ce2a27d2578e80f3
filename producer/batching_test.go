package producer

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchCounter observes produce requests at the broker and records, per
// batch, how many records it held.
type batchCounter struct {
	mu      sync.Mutex
	batches []int32
	reqs    int
}

func countBatches(c *kfake.Cluster) *batchCounter {
	bc := &batchCounter{}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		bc.mu.Lock()
		defer bc.mu.Unlock()
		bc.reqs++
		for _, t := range pr.Topics {
			for _, p := range t.Partitions {
				var rb kmsg.RecordBatch
				if err := rb.ReadFrom(p.Records); err == nil {
					bc.batches = append(bc.batches, rb.NumRecords)
				}
			}
		}
		return nil, nil, false
	})
	return bc
}

func (bc *batchCounter) snapshot() (batches []int32, reqs int) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	return append([]int32(nil), bc.batches...), bc.reqs
}

func TestLingerGathersRecordsIntoOneBatch(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "linger"))
	p := newTestProducer(t, c, WithLinger(300*time.Millisecond), WithBatchSize(1<<20))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "linger", Value: []byte("v-0")}); err != nil {
		t.Fatal(err) // warm up metadata and connections
	}
	bc := countBatches(c)
	l := newLedger(t)
	start := time.Now()
	for i := 1; i <= 200; i++ {
		p.Send(ctx, l.record("linger", i), l.callback(i))
	}
	l.wait(10 * time.Second)
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("records answered after %v, before linger passed", d)
	}
	batches, _ := bc.snapshot()
	if len(batches) != 1 || batches[0] != 200 {
		t.Fatalf("broker got batches %v, want one batch of 200", batches)
	}
}

func TestBatchSizeSplitsBatches(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "bsize"))
	p := newTestProducer(t, c, WithLinger(time.Second), WithBatchSize(2000))
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := p.SendSync(ctx, &Record{Topic: "bsize", Value: []byte("v-0")}); err != nil {
		t.Fatal(err)
	}
	bc := countBatches(c)
	l := newLedger(t)
	for i := 1; i <= 200; i++ {
		rec := l.record("bsize", i)
		rec.Value = append(rec.Value, make([]byte, 90)...)
		rec.Value[len(rec.Value)-90] = '|'
		p.Send(ctx, rec, l.callback(i))
	}
	l.wait(10 * time.Second)
	batches, _ := bc.snapshot()
	total := int32(0)
	for _, n := range batches {
		total += n
		if n > 20 { // 2000 bytes / ~100 bytes per record
			t.Fatalf("a batch held %d records, more than batch.size allows", n)
		}
	}
	if total != 200 || len(batches) < 10 {
		t.Fatalf("broker got %d batches with %d records: %v", len(batches), total, batches)
	}
	l.checkLog(consume(t, c, "bsize", 201))
}
