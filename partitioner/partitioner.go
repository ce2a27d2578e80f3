package partitioner

// NoPartition is what the choosers in this package return when there is no
// partition to return, for example when numPartitions is less than 1. It is
// never a valid partition number.
const NoPartition int32 = -1

// Partitioner is a user-supplied partition chooser (a custom partitioner).
// Partition returns a partition in [0, numPartitions) for a record of topic
// with the given key and value (either may be nil). It is called from many
// goroutines at once and must be safe for concurrent use; it must not keep
// key or value after it returns, as the caller may reuse them.
type Partitioner interface {
	Partition(topic string, key, value []byte, numPartitions int) int32
}

// AvailabilityAware is an optional extension of Partitioner, discovered by a
// type assertion, for choosers that want to know which partitions currently
// have a leader. A producer that finds it calls PartitionAvailable instead of
// Partition.
//
// available lists the partition numbers that have a leader; nil or empty
// means all of 0..numPartitions-1. The result must still be in
// [0, numPartitions), and may be a partition not in available.
type AvailabilityAware interface {
	Partitioner
	PartitionAvailable(topic string, key, value []byte, numPartitions int, available []int32) int32
}

// Func adapts a plain function to Partitioner, for custom choosers that need
// no state of their own.
type Func func(topic string, key, value []byte, numPartitions int) int32

// Partition calls f. A nil Func returns NoPartition instead of panicking.
func (f Func) Partition(topic string, key, value []byte, numPartitions int) int32 {
	if f == nil {
		return NoPartition
	}
	return f(topic, key, value, numPartitions)
}
