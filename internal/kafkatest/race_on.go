//go:build race

package kafkatest

// Race reports whether the race detector is on: it multiplies a process's
// resident memory (shadow memory), so memory bounds check the Go runtime's
// own figures then (MemoryPeak.Held) instead of the RSS.
const Race = true
