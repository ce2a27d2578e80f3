package kafkatest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Shared hands the tests of one package real Kafka clusters, one running at
// a time: Get returns the running cluster when it was launched with the
// same configuration, and otherwise closes it and launches the one asked
// for. Tests that want the same shape of cluster thus share one (a launch
// costs 10–30 s), and a package that needs two shapes pays for two launches
// if its tests are grouped by shape (go test runs them in file order).
// TestMain calls Close after m.Run.
type Shared struct {
	mu     sync.Mutex
	k      *Kafka
	key    string
	failed map[string]error // launches that failed, not tried again
}

// Get returns a running cluster of cfg for t. Nodes a previous test left
// stopped are started again first, so every test begins with all of them.
// Without the jars the test is skipped (failed under CI).
func (s *Shared) Get(t testing.TB, cfg KafkaConfig) *Kafka {
	t.Helper()
	RequireKafka(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg.Brokers = max(cfg.Brokers, 1)
	if cfg.HeapMB <= 0 {
		cfg.HeapMB = 512
	}
	key := fmt.Sprintf("%+v", cfg) // %v prints maps in key order
	if err := s.failed[key]; err != nil {
		t.Fatalf("kafkatest: this cluster failed to launch before: %v", err)
	}
	if s.k != nil && s.key != key {
		s.k.Close()
		s.k = nil
	}
	if s.k == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*ReadyTimeout)
		start := time.Now()
		k, err := Launch(ctx, cfg)
		cancel()
		if err != nil {
			if s.failed == nil {
				s.failed = map[string]error{}
			}
			s.failed[key] = err
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "kafkatest: Kafka %s, %d node(s) at %s, ready in %v\n", Version, len(k.nodes),
			strings.Join(k.Addrs(), ","), time.Since(start).Round(time.Millisecond))
		s.k, s.key = k, key
	}
	for _, id := range s.k.Down() {
		t.Logf("kafkatest: node %d was left down by an earlier test; starting it", id)
		s.k.RestartBroker(t, id)
	}
	k := s.k
	t.Cleanup(func() {
		if t.Failed() {
			for _, id := range k.BrokerIDs() {
				t.Logf("broker %d log tail:\n%s", id, k.LogTail(id, 30))
			}
		}
	})
	return k
}

// Close ends the running cluster, if any.
func (s *Shared) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k != nil {
		s.k.Close()
		s.k = nil
	}
}
