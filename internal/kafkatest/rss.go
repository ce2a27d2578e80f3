package kafkatest

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RSS is this process's resident set size now, from /proc/self/status; the
// test is skipped where there is no /proc.
func RSS(t testing.TB) int64 {
	t.Helper()
	n, err := rss()
	if err != nil {
		t.Skipf("cannot read the resident set size: %v", err)
	}
	return n
}

func rss() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/self/status")
}

// Held is the memory the Go runtime holds from the OS now: what it mapped,
// less what it gave back.
func Held() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys - ms.HeapReleased)
}

// MemoryPeak samples the process's memory every 20 ms from SampleMemory
// until End and keeps the highest: the resident set size, and the memory
// the Go runtime holds (Held). Under the race detector the RSS includes its
// shadow memory, several times what the program touches, so bounds are
// checked on Held there.
type MemoryPeak struct {
	stop, done        chan struct{}
	baseRSS, baseHeld int64
	mu                sync.Mutex
	peakRSS, peakHeld int64
	GrewRSS, GrewHeld int64 // set by End: the peaks less the figures at the start
}

// SampleMemory starts sampling, after a GC; the test is skipped where
// there is no /proc.
func SampleMemory(t testing.TB) *MemoryPeak {
	t.Helper()
	runtime.GC()
	s := &MemoryPeak{stop: make(chan struct{}), done: make(chan struct{}), baseRSS: RSS(t), baseHeld: Held()}
	s.peakRSS, s.peakHeld = s.baseRSS, s.baseHeld
	go func() {
		defer close(s.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			n, err := rss()
			h := Held()
			s.mu.Lock()
			if err == nil {
				s.peakRSS = max(s.peakRSS, n)
			}
			s.peakHeld = max(s.peakHeld, h)
			s.mu.Unlock()
		}
	}()
	return s
}

// End stops sampling and sets the growth figures.
func (s *MemoryPeak) End() {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.GrewRSS, s.GrewHeld = s.peakRSS-s.baseRSS, s.peakHeld-s.baseHeld
}

// String says what grew, for a test's log.
func (s *MemoryPeak) String() string {
	return fmt.Sprintf("RSS %d MiB → peak %d MiB (+%d), Go runtime held %d MiB → peak %d MiB (+%d)",
		s.baseRSS>>20, s.peakRSS>>20, s.GrewRSS>>20, s.baseHeld>>20, s.peakHeld>>20, s.GrewHeld>>20)
}

// CheckGrowth fails the test when the process grew by more than limit
// bytes between SampleMemory and End: its RSS, or under the race detector
// the memory the Go runtime held.
func (s *MemoryPeak) CheckGrowth(t testing.TB, limit int64, what string) {
	t.Helper()
	grew, kind := s.GrewRSS, "RSS"
	if Race {
		grew, kind = s.GrewHeld, "memory the Go runtime held (race detector on: its shadow memory is in the RSS)"
	}
	if grew > limit {
		t.Fatalf("%s grew by %d MiB, more than %s (%d MiB); %v", kind, grew>>20, what, limit>>20, s)
	}
}
