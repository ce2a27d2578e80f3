package partitioner

import (
	"errors"
	"fmt"
)

// Errors reported by this package. Match them with errors.Is.
var (
	// ErrNoPartitions means a partition was asked for a topic that has no
	// partitions (numPartitions < 1).
	ErrNoPartitions = errors.New("partitioner: topic has no partitions")
	// ErrInvalidPartition means a partition number lies outside
	// [0, numPartitions), typically the result of a custom Partitioner.
	ErrInvalidPartition = errors.New("partitioner: partition out of range")
	// ErrInvalidConfig means a StickyConfig field holds a value that has no
	// meaning, such as a negative batch size.
	ErrInvalidConfig = errors.New("partitioner: invalid config")
)

// CheckPartition reports whether partition is a valid choice for a topic with
// numPartitions partitions: nil if it is in [0, numPartitions), otherwise an
// error wrapping ErrNoPartitions or ErrInvalidPartition. The producer uses it
// to refuse the output of a misbehaving custom Partitioner with a clear error.
// It allocates only when it returns an error.
func CheckPartition(partition int32, numPartitions int) error {
	if numPartitions < 1 {
		return fmt.Errorf("%w (partition count %d)", ErrNoPartitions, numPartitions)
	}
	if partition < 0 || int(partition) >= numPartitions {
		return fmt.Errorf("%w: %d is not in [0, %d)", ErrInvalidPartition, partition, numPartitions)
	}
	return nil
}
