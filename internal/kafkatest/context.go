package kafkatest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"
)

// Context returns a context that ends after d, canceled at the latest when
// the test's cleanup runs: the bound a test puts on its calls to the code
// under test, so a hang fails the test instead of stalling the run.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// DebugLogger is a debug-level logger to standard error when
// KPROD_TEST_DEBUG (or KPROD_TEST_LOG) is set, and nil otherwise: what the
// tests give a producer, so a failing run can be repeated with its log.
func DebugLogger() *slog.Logger {
	if os.Getenv("KPROD_TEST_DEBUG") == "" && os.Getenv("KPROD_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
