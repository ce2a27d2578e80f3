package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kprod/kprod/producer"
)

func TestThrottleDelay(t *testing.T) {
	start := time.Unix(1000, 0)
	thr := newThrottle(1000, start) // one record per ms
	for _, tc := range []struct {
		i    int64
		now  time.Duration // since start
		want time.Duration
	}{
		{0, 0, 0},
		{1, 0, time.Millisecond},
		{10, 9600 * time.Microsecond, 0}, // due in 400µs: below minSleep, send now
		{10, 9 * time.Millisecond, time.Millisecond},
		{10, 20 * time.Millisecond, 0}, // behind: no wait
	} {
		if got := thr.delay(tc.i, start.Add(tc.now)); got != tc.want {
			t.Errorf("delay(%d, +%v) = %v, want %v", tc.i, tc.now, got, tc.want)
		}
	}
	thr = newThrottle(10_000, start) // 100µs apart
	if d := thr.delay(100, start.Add(5*time.Millisecond)); d != 5*time.Millisecond {
		t.Errorf("record 100 at +5ms waits %v, want 5ms", d)
	}
	for _, rate := range []float64{-1, 0} {
		if d := newThrottle(rate, start).delay(1<<40, start); d != 0 {
			t.Errorf("rate %v (no cap) delays %v", rate, d)
		}
	}
}

func TestParseProps(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		bad  bool
	}{
		{in: "", want: map[string]string{}},
		{in: "acks=1", want: map[string]string{"acks": "1"}},
		{in: " linger.ms = 5 , batch.size=65536,", want: map[string]string{"linger.ms": "5", "batch.size": "65536"}},
		{in: "sasl.jaas.config=a=b", want: map[string]string{"sasl.jaas.config": "a=b"}},
		{in: "client.id=", want: map[string]string{"client.id": ""}},
		{in: "acks", bad: true},
		{in: "=1", bad: true},
		{in: "acks=1,acks=all", bad: true},
	} {
		got, err := ParseProps(tc.in)
		if tc.bad {
			if err == nil || got != nil {
				t.Errorf("ParseProps(%q) = %v, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("ParseProps(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("ParseProps(%q)[%q] = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

// TestSlotsRecycle checks a slot goes back to the free list once answered,
// so a steady run allocates no slot per record.
func TestSlotsRecycle(t *testing.T) {
	g := New()
	g.tally.Store(NewTally(1 << 40))
	a := g.slot()
	a.Callback(producer.RecordMetadata{}, nil)
	if b := g.slot(); b != a {
		t.Fatal("an answered slot was not reused")
	}
	allocs := testing.AllocsPerRun(100, func() {
		s := g.slot()
		s.Callback(producer.RecordMetadata{}, nil)
		g.Callback(producer.RecordMetadata{}, nil)
	})
	if allocs != 0 {
		t.Errorf("slot, answer and untimed answer allocate %.1f times", allocs)
	}
}

// TestRunTimesEveryNth sends through a fake library that answers at once:
// every record is answered, one in TimeEvery carries a slot, errors are
// counted with the first kept, and a warm generator allocates nothing per
// record.
func TestRunTimesEveryNth(t *testing.T) {
	g := New()
	boom := errors.New("boom")
	timed := 0
	send := func(i int64, s *Slot) {
		var err error
		if i == 3 || i == 7 {
			err = boom
		}
		if s != nil {
			timed++
			time.Sleep(time.Microsecond)
			s.Done(err)
			return
		}
		g.Count(err)
	}
	tl := NewTally(100)
	if err := g.Run(context.Background(), tl, Load{TimeEvery: 4}, send); err != nil {
		t.Fatal(err)
	}
	if timed != 25 || tl.Answered() != 100 || tl.Errors() != 2 || !errors.Is(tl.FirstErr(), boom) {
		t.Errorf("timed %d, answered %d, errors %d (first %v); want 25, 100, 2 (boom)", timed, tl.Answered(), tl.Errors(), tl.FirstErr())
	}
	if tl.MaxLatency() <= 0 || tl.Quantile(0.5) <= 0 || tl.Quantile(0.5) > tl.MaxLatency()+tl.MaxLatency()/32 ||
		tl.LatencySum() < tl.MaxLatency() {
		t.Errorf("latency: max %d, p50 %d, sum %d", tl.MaxLatency(), tl.Quantile(0.5), tl.LatencySum())
	}
	if w := tl.TakeWindowMax(); w != tl.MaxLatency() || tl.TakeWindowMax() != 0 {
		t.Errorf("window max %d, then not reset (max %d)", w, tl.MaxLatency())
	}
	select {
	case <-tl.Done():
	default:
		t.Error("Done not closed after every answer")
	}

	quiet := func(_ int64, s *Slot) {
		if s != nil {
			s.Done(nil)
		} else {
			g.Count(nil)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := g.Run(context.Background(), NewTally(1000), Load{TimeEvery: 2}, quiet); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 { // the tally itself
		t.Errorf("a run of 1000 records allocates %.0f times", allocs)
	}
}

// TestRunPaced checks Rate paces the run: 200 records at 2000/s take about
// 0.1s.
func TestRunPaced(t *testing.T) {
	g := New()
	start := time.Now()
	if err := g.Run(context.Background(), NewTally(200), Load{Rate: 2000}, func(_ int64, s *Slot) { s.Done(nil) }); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Errorf("200 records at 2000/s took %v, want ≥ 95ms", d)
	}
}

// TestRunUnanswered checks Run gives up when ctx ends before every answer.
func TestRunUnanswered(t *testing.T) {
	g := New()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := g.Run(ctx, NewTally(10), Load{}, func(i int64, s *Slot) {
		if i < 4 {
			s.Done(nil)
		}
	})
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "6 of 10 records unanswered: context deadline exceeded" {
		t.Errorf("Run = %v, want 6 of 10 unanswered and the deadline", err)
	}
}

func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	stop, err := StartCPUProfile(dir + "/cpu.pprof")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if err := WriteMemProfile(dir + "/allocs.pprof"); err != nil {
		t.Fatal(err)
	}
	stop, err = StartCPUProfile("")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if err := WriteMemProfile(""); err != nil {
		t.Fatal(err)
	}
	if _, err := StartCPUProfile(dir + "/no/such/dir/cpu.pprof"); err == nil {
		t.Error("a CPU profile into a missing directory did not fail")
	}
}
