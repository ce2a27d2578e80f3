//go:build cgo

package main

import "testing"

// TestRdkafkaConfig checks the workload's settings reach librdkafka.
func TestRdkafkaConfig(t *testing.T) {
	e := mustWorkload(t, "e")
	c := rdkafkaConfig(driverConfig{w: e, brokers: []string{"127.0.0.1:1", "127.0.0.1:2"}})
	for k, want := range map[string]any{
		"bootstrap.servers": "127.0.0.1:1,127.0.0.1:2", "acks": "all", "enable.idempotence": true,
		"linger.ms": "5", "batch.size": 64 << 10, "compression.type": "none",
		"queue.buffering.max.kbytes": 32 << 10, "partitioner": "murmur2_random",
	} {
		if got := c[k]; got != want {
			t.Errorf("%s = %v (%T), want %v", k, got, got, want)
		}
	}
	if c := rdkafkaConfig(driverConfig{w: mustWorkload(t, "d")}); c["linger.ms"] != "0" {
		t.Errorf("linger.ms = %v for linger 0", c["linger.ms"])
	}
}
