package main

import "testing"

// TestQuickstart runs the walkthrough on the embedded cluster: it fails
// unless every record is acknowledged.
func TestQuickstart(t *testing.T) {
	if err := run("", "first"); err != nil {
		t.Fatal(err)
	}
}
