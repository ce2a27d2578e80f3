// Package idempotence holds what the idempotent producer needs beyond the
// batches themselves: obtaining a producer id and epoch from the cluster,
// advancing per-partition sequence numbers (which wrap at MaxInt32), and
// deciding what a sequence-related broker error means for a batch.
//
// The producer's sender goroutine owns the per-partition state; this package
// is the protocol knowledge it consults.
package idempotence
