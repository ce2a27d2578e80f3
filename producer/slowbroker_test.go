package producer

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// memPeak samples the Go heap and the producer's buffer gauge until stopped.
type memPeak struct {
	stop chan struct{}
	done chan struct{}

	heapBase  uint64
	heapPeak  atomic.Uint64 // HeapInuse
	bufPeak   atomic.Int64  // Metrics().BufferBytesInUse
	samples   atomic.Int64
	bufLimitN atomic.Int64 // samples over the limit
}

func sampleMemory(p *Producer, limit int64, every time.Duration) *memPeak {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := &memPeak{stop: make(chan struct{}), done: make(chan struct{}), heapBase: ms.HeapInuse}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > m.heapPeak.Load() {
				m.heapPeak.Store(ms.HeapInuse)
			}
			in := p.Metrics().BufferBytesInUse
			if in > m.bufPeak.Load() {
				m.bufPeak.Store(in)
			}
			if in > limit {
				m.bufLimitN.Add(1)
			}
			m.samples.Add(1)
		}
	}()
	return m
}

func (m *memPeak) finish() {
	close(m.stop)
	<-m.done
}

// TestSlowBrokerBoundsMemory stalls every produce request and attempts ten
// times buffer.memory worth of sends: memory held for records stays within
// buffer.memory (the producer's gauge on every sample, and the Go heap's
// growth within what the buffer plus the in-process broker's copies of the
// stalled requests account for); sends past the bound block for max.block,
// then fail with ErrBufferFull and ErrMaxBlock; when the broker answers
// again every accepted record is written once, in order.
func TestSlowBrokerBoundsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("about 10s: skipped with -short")
	}
	const (
		bufMem    = 4 << 20
		recSize   = 32 << 10
		writers   = 16
		maxBlock  = 100 * time.Millisecond
		attempted = 10 * bufMem
	)
	c := newCluster(t, kfake.SeedTopics(writers, "slow"))
	p := newTestProducer(t, c, WithBufferMemory(bufMem), WithBatchSize(64<<10), WithMaxBlock(maxBlock),
		WithLinger(5*time.Millisecond), WithRequestTimeout(60*time.Second), WithDeliveryTimeout(2*time.Minute))
	ctx := ctxTimeout(t, 2*time.Minute)
	for part := range int32(writers) { // metadata, producer id and connections up front
		warm := &Record{Topic: "slow", Value: []byte("v--" + itoa(int(part)+1)), Partition: part, PinPartition: true}
		if _, err := p.SendSync(ctx, warm); err != nil {
			t.Fatal(err)
		}
	}
	release := make(chan struct{})
	stallProduce(c, release)

	// One value per writer, reused: the test itself holds no per-record memory.
	values := make([][]byte, writers)
	for w := range values {
		values[w] = make([]byte, recSize)
	}
	mem := sampleMemory(p, bufMem, 2*time.Millisecond)
	l := newLedger(t)
	var (
		wg        sync.WaitGroup
		bytesSent atomic.Int64
		refused   atomic.Int64
		badErr    atomic.Pointer[error]
		shortest  atomic.Int64
		longest   atomic.Int64
	)
	shortest.Store(int64(time.Hour))
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; bytesSent.Add(recSize) <= attempted; i++ {
				id := w*1_000_000 + i
				rec := &Record{Topic: "slow", Value: values[w], Partition: int32(w), PinPartition: true}
				copy(rec.Value, "v-"+itoa(id)+"|")
				start := time.Now()
				fut := p.Send(ctx, rec, l.callback(id))
				took := time.Since(start)
				select {
				case <-fut.Done():
				default:
					continue // accepted: waits for the broker
				}
				_, err := fut.Get(ctx)
				if err == nil {
					continue
				}
				if !errors.Is(err, ErrBufferFull) || !errors.Is(err, ErrMaxBlock) {
					badErr.CompareAndSwap(nil, &err)
					return
				}
				refused.Add(1)
				for cur := shortest.Load(); int64(took) < cur && !shortest.CompareAndSwap(cur, int64(took)); cur = shortest.Load() {
				}
				for cur := longest.Load(); int64(took) > cur && !longest.CompareAndSwap(cur, int64(took)); cur = longest.Load() {
				}
			}
		}()
	}
	wg.Wait()
	mem.finish()
	if ep := badErr.Load(); ep != nil {
		t.Fatalf("a Send failed with %v, want ErrBufferFull and ErrMaxBlock", *ep)
	}
	growth := int64(mem.heapPeak.Load()) - int64(mem.heapBase)
	t.Logf("attempted %d MiB with buffer.memory %d MiB: %d sends refused after %v..%v; buffer peak %d KiB over %d samples; heap in use grew by at most %.1f MiB",
		attempted>>20, bufMem>>20, refused.Load(), time.Duration(shortest.Load()), time.Duration(longest.Load()),
		mem.bufPeak.Load()>>10, mem.samples.Load(), float64(growth)/(1<<20))
	if n := mem.bufLimitN.Load(); n > 0 || mem.bufPeak.Load() > bufMem {
		t.Fatalf("buffer in use peaked at %d bytes (%d samples over buffer.memory %d)", mem.bufPeak.Load(), n, bufMem)
	}
	if refused.Load() == 0 {
		t.Fatal("no Send was refused: the buffer never filled")
	}
	if d := time.Duration(shortest.Load()); d < maxBlock*8/10 {
		t.Fatalf("a refused Send returned after %v, before max.block (%v)", d, maxBlock)
	}
	if d := time.Duration(longest.Load()); d > 10*maxBlock {
		t.Fatalf("a refused Send returned after %v, max.block is %v", d, maxBlock)
	}
	// The heap holds the buffer, the in-process broker's copy of the stalled
	// requests (at most the buffer again) and bookkeeping; without the bound
	// it would hold the ten times buffer.memory that was attempted.
	if limit := int64(3 * bufMem); growth > limit {
		t.Fatalf("heap in use grew by %d bytes, more than %d (3x buffer.memory)", growth, limit)
	}

	close(release)
	l.wait(time.Minute)
	l.mu.Lock()
	for id, err := range l.errs {
		if !errors.Is(err, ErrBufferFull) {
			l.mu.Unlock()
			t.Fatalf("record %d: %v; only refused sends may fail", id, err)
		}
	}
	l.mu.Unlock()
	// The producer carries on.
	if _, err := p.SendSync(ctx, &Record{Topic: "slow", Value: []byte("v-99999999"), PinPartition: true}); err != nil {
		t.Fatalf("a record after the broker came back: %v", err)
	}
	accepted := l.sent - l.failed()
	l.checkLog(consume(t, c, "slow", writers+accepted+1))
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
