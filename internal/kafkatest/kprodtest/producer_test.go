package kprodtest_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/kafkatest/kprodtest"
	"github.com/kprod/kprod/producer"
)

// TestNewProducer: the producer writes to the cluster it was given, and the
// record reads back with kgo.
func TestNewProducer(t *testing.T) {
	c := kafkatest.NewFake(t, 1, kfake.SeedTopics(1, "t"))
	p := kprodtest.NewProducer(t, c.Addrs(), producer.WithLinger(0))
	if _, err := p.SendSync(kafkatest.Context(t, 10*time.Second), &producer.Record{Topic: "t", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if got := kafkatest.ReadRecords(t, c.Addrs(), "t", 1, kafkatest.ReadOptions{}); len(got) != 1 || string(got[0].Value) != "v" {
		t.Fatalf("read %v", got)
	}
}
