// Package partitioner chooses the partition a record is written to.
//
// It holds the pieces the producer needs on the hot path of every Send:
//
//   - [Murmur2], [ToPositive] and [KeyPartition]: the key hash, bit for bit
//     the one the Java client uses, so that a keyed record lands on the same
//     partition whichever client wrote it.
//   - [Sticky]: the built-in "uniform sticky" chooser for records without a
//     key. All keyless records of a topic go to one partition until about a
//     batch worth of bytes went there, then it moves on; with adaptive
//     partitioning it prefers partitions whose queues are short and skips
//     partitions whose leader stopped accepting data. [Sticky.Topic] gives a
//     per-topic handle for callers that want to skip the lookup by name.
//   - [Partitioner] and [Func]: the hook for a user's own chooser, with
//     [NewRoundRobin] and [Hash] as ready-made ones.
//
// Everything here is safe for concurrent use by many goroutines, and the
// per-record calls neither lock nor allocate in the steady state.
//
// A function that cannot produce a partition (for example because the topic
// has no partitions) returns [NoPartition]; [CheckPartition] turns any result
// into an error usable with errors.Is.
//
// The package depends on the standard library only.
package partitioner
