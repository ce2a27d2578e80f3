package kafkatest

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// LeakCheck snapshots the goroutines running now; the function it returns,
// called once the test closed everything it started (its kfake clusters
// included), fails the test if any other goroutine is still running
// (goleak retries for a while first). kfake's own goroutines may still be
// unwinding a slept control after Cluster.Close (its run loop can stay
// parked waiting for one); the check is about the code under test, whose
// stacks never hold a kfake function, so they are not counted. extra
// ignores more, for a test that expects one of its goroutines to remain.
func LeakCheck(t testing.TB) func(extra ...goleak.Option) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	return func(extra ...goleak.Option) {
		t.Helper()
		goleak.VerifyNone(t, append([]goleak.Option{ignore,
			goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).run"),
			goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).runControl.func1"),
			goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).continueSleptControl")},
			extra...)...)
	}
}

// Stacks is every goroutine's stack, as runtime.Stack prints them, for a
// test that counts or dumps goroutines itself.
func Stacks() []byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Goroutines returns the stacks of the goroutines whose stack holds match
// (a function's package-qualified name, say), leaving out test functions
// themselves (those testing.tRunner runs).
func Goroutines(match string) []string {
	var out []string
	for _, g := range strings.Split(string(Stacks()), "\n\n") {
		if strings.Contains(g, match) && !strings.Contains(g, "testing.tRunner") {
			out = append(out, g)
		}
	}
	return out
}

// WaitGoroutinesGone fails the test, listing their stacks, when goroutines
// matching match (see Goroutines) are still running after d: the check for
// a package whose goroutines must all end once what started them closed,
// wherever they were started.
func WaitGoroutinesGone(t testing.TB, match string, d time.Duration) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if left = Goroutines(match); len(left) == 0 {
			return
		}
	}
	t.Fatalf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
}
