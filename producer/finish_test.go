package producer

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestParallelCompression fills many partitions' batches at once, so the
// sender compresses several per step with helpers: with every codec, each
// record is answered once and read back once, in order per partition.
func TestParallelCompression(t *testing.T) {
	for _, codec := range []Compression{CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			const parts, n = 6, 6000
			c := newCluster(t, kfake.SeedTopics(parts, "pc"))
			p := newTestProducer(t, c, WithCompression(codec), WithBatchSize(4<<10), WithLinger(30*time.Millisecond))
			l := newLedger(t)
			ctx := ctxTimeout(t, 30*time.Second)
			pad := bytes.Repeat([]byte("|compressible"), 10)
			for i := range n {
				rec := l.record("pc", i)
				rec.Value = append(rec.Value, pad...)
				rec.Key = []byte(strconv.Itoa(i % 60)) // spread over every partition
				p.Send(ctx, rec, l.callback(i))
			}
			l.wait(30 * time.Second)
			if f := l.failed(); f != 0 {
				t.Fatalf("%d records failed, e.g. %v", f, firstErr(l))
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			l.checkLog(consume(t, c, "pc", n))
			if runtime.GOMAXPROCS(0) < 2 {
				t.Log("GOMAXPROCS is 1: no helpers, the sender compressed alone")
			} else if p.m.parallelFinishes.Load() == 0 {
				t.Fatal("no step compressed its batches with helpers")
			}
		})
	}
}
