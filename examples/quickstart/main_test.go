package main

import (
	"testing"

	"github.com/kprod/kprod/internal/kafkatest"
)

// TestQuickstart runs the walkthrough on the embedded cluster: it fails
// unless every record is acknowledged.
func TestQuickstart(t *testing.T) {
	if err := run("", "first"); err != nil {
		t.Fatal(err)
	}
}

// TestQuickstartKafka runs the walkthrough as -kafka does: on a real Kafka
// node it starts and stops. Skipped without the jars (failed under CI).
func TestQuickstartKafka(t *testing.T) {
	kafkatest.RequireKafka(t)
	if err := runWith(true, "", "first"); err != nil {
		t.Fatal(err)
	}
}
