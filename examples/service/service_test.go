package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// Integration tests: the whole service, a real producer, producertest's
// embedded cluster and injected produce faults.

// startService runs the service (run, with its signal handling) against
// the cluster, and returns its events URL and run's result.
func startService(t *testing.T, c *producertest.Cluster, grace time.Duration) (string, <-chan error) {
	t.Helper()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	cfg := config{
		brokers: c.Addrs(),
		addr:    "127.0.0.1:0",
		topic:   "events",
		grace:   grace,
		timeout: 20 * time.Second,
		log:     log.New(io.Discard, "", 0),
		// Retry quickly, so the faults below cost little time.
		producerOpts: []producer.Opt{producer.WithRetryBackoff(10*time.Millisecond, 100*time.Millisecond)},
		ready:        func(a string) { addr <- a },
	}
	go func() { done <- run(cfg) }()
	select {
	case a := <-addr:
		return "http://" + a + "/events", done
	case err := <-done:
		t.Fatalf("the service did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the service did not start within 10s")
	}
	return "", nil
}

// stopService sends the process SIGTERM, as a platform stopping the
// service would, and waits for run to return.
func stopService(t *testing.T, done <-chan error, within time.Duration) {
	t.Helper()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(within):
		t.Fatalf("the service did not stop within %v of SIGTERM", within)
	}
}

func postEvent(t *testing.T, url, key, body string) (int, accepted) {
	t.Helper()
	resp, err := http.Post(url+"?key="+key, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a accepted
	if resp.StatusCode == http.StatusAccepted {
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, a
}

func readBack(t *testing.T, c *producertest.Cluster) []producertest.StoredRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recs, err := c.Records(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Retriable broker errors are the producer's business: the client sees 202
// and the event is in the log exactly once.
func TestServiceRidesOutRetriableFaults(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("events", 3))
	url, done := startService(t, c, 10*time.Second)

	notLeader := c.FailNextProduce("events", 3, kerr.NotLeaderForPartition)
	code, a := postEvent(t, url, "user-1", "first")
	if code != http.StatusAccepted {
		t.Fatalf("status %d, want 202", code)
	}
	if notLeader.Hits() != 3 {
		t.Fatalf("the fault struck %d produce requests, want 3", notLeader.Hits())
	}
	// A request timed out after the broker wrote the batch: the retry is a
	// duplicate that idempotence removes.
	timedOut := c.FailNextProduce("events", 1, kerr.RequestTimedOut)
	code2, a2 := postEvent(t, url, "user-1", "second")
	if code2 != http.StatusAccepted || timedOut.Hits() != 1 {
		t.Fatalf("status %d, fault hits %d", code2, timedOut.Hits())
	}
	stopService(t, done, 15*time.Second)

	recs := readBack(t, c)
	if len(recs) != 2 {
		t.Fatalf("%d records in the log, want 2: %+v", len(recs), recs)
	}
	for i, want := range []accepted{a, a2} {
		var found bool
		for _, r := range recs {
			if r.Partition == want.Partition && r.Offset == want.Offset {
				found = string(r.Value) == []string{"first", "second"}[i] && string(r.Key) == "user-1"
			}
		}
		if !found {
			t.Fatalf("event %d answered at %d@%d, which does not hold it: %+v", i, want.Partition, want.Offset, recs)
		}
	}
}

// A broker error that retrying cannot fix reaches the client as 503, and
// the service carries on.
func TestServiceNonRetriableFaultIs503(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("events", 3))
	url, done := startService(t, c, 10*time.Second)

	c.FailNextProduce("events", 1, kerr.PolicyViolation)
	if code, _ := postEvent(t, url, "user-1", "refused"); code != http.StatusServiceUnavailable {
		t.Fatalf("status %d under POLICY_VIOLATION, want 503", code)
	}
	if code, _ := postEvent(t, url, "user-1", "kept"); code != http.StatusAccepted {
		t.Fatalf("status %d after the fault, want 202", code)
	}
	stopService(t, done, 15*time.Second)
	recs := readBack(t, c)
	if len(recs) != 1 || string(recs[0].Value) != "kept" {
		t.Fatalf("log holds %+v, want only the event answered 202", recs)
	}
}

// Events accepted while connections drop and leaders move are all in the
// log once; SIGTERM then stops the service cleanly.
func TestServiceUnderConnectionDropsAndLeaderMoves(t *testing.T) {
	c := producertest.NewCluster(t, producertest.WithTopic("events", 3))
	url, done := startService(t, c, 10*time.Second)
	const events = 30
	for i := range events {
		switch i {
		case 5:
			c.DropConnections()
		case 10:
			c.DropNextProduce(1)
		case 15, 25:
			c.MoveLeaders()
		}
		if code, _ := postEvent(t, url, fmt.Sprint("user-", i%4), fmt.Sprint("event-", i)); code != http.StatusAccepted {
			t.Fatalf("event %d: status %d, want 202", i, code)
		}
	}
	stopService(t, done, 15*time.Second)
	recs := readBack(t, c)
	seen := map[string]int{}
	for _, r := range recs {
		seen[string(r.Value)]++
	}
	for i := range events {
		if n := seen[fmt.Sprint("event-", i)]; n != 1 {
			t.Fatalf("event %d is in the log %d times", i, n)
		}
	}
}

// With no brokers the service starts its own embedded cluster, as
// `go run ./examples/service` does.
func TestServiceEmbeddedCluster(t *testing.T) {
	addr := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runContext(ctx, config{addr: "127.0.0.1:0", topic: "events", grace: 10 * time.Second,
			log: log.New(io.Discard, "", 0), ready: func(a string) { addr <- a }})
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a + "/events"
	case err := <-done:
		t.Fatal(err)
	}
	if code, a := postEvent(t, url, "k", "hello"); code != http.StatusAccepted || a.Topic != "events" {
		t.Fatalf("status %d, answer %+v", code, a)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
