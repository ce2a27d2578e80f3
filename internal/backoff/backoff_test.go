package backoff

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestCapped(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 50 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{60, time.Second},
	}
	for _, tt := range tests {
		if got := Capped(50*time.Millisecond, time.Second, tt.n); got != tt.want {
			t.Errorf("Capped(%d) = %v; want %v", tt.n, got, tt.want)
		}
	}
	if got := Capped(0, time.Second, 10); got != 0 {
		t.Errorf("Capped with a zero base = %v; want 0", got)
	}
}

func TestJitter(t *testing.T) {
	lo, hi := Jitter(time.Second, 0), Jitter(time.Second, 0.999999)
	if lo != 800*time.Millisecond || hi < 1199*time.Millisecond || hi >= 1200*time.Millisecond {
		t.Errorf("jitter range [%v, %v]; want [800ms, 1.2s)", lo, hi)
	}
	if got := Jitter(time.Second, 0.5); got != time.Second {
		t.Errorf("Jitter(1s, 0.5) = %v; want 1s", got)
	}
}

func TestExpWithinJitterOfCapped(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	for n := range 8 {
		want := Capped(base, max, n)
		for range 100 {
			if got := Exp(base, max, n); got < want*8/10 || got >= want*12/10 {
				t.Fatalf("Exp(%d) = %v; want %v ±20%%", n, got, want)
			}
		}
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(context.Background(), time.Second); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("slept %v; want 1s", d)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start = time.Now()
		if err := Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Sleep past the deadline = %v; want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("returned after %v; want when ctx ended, 100ms", d)
		}
	})
}
