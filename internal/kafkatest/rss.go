package kafkatest

import (
	"fmt"
	"os"
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

// RSSPeak samples the resident set size every 20 ms from its start until
// End, and keeps the highest.
type RSSPeak struct {
	stop, done chan struct{}
	mu         sync.Mutex
	peak       int64
}

// SampleRSS starts sampling; the test is skipped where there is no /proc.
func SampleRSS(t testing.TB) *RSSPeak {
	t.Helper()
	first := RSS(t)
	s := &RSSPeak{stop: make(chan struct{}), done: make(chan struct{}), peak: first}
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
			if n, err := rss(); err == nil {
				s.mu.Lock()
				s.peak = max(s.peak, n)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// End stops sampling and returns the highest size seen.
func (s *RSSPeak) End() int64 {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
