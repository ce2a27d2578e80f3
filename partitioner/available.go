package partitioner

import (
	"math"
	"slices"
)

// clampCount limits a partition count to what an int32 partition number can
// address, so that counts from a 64-bit int never overflow a conversion.
func clampCount(numPartitions int) int {
	if numPartitions > math.MaxInt32 {
		return math.MaxInt32
	}
	return numPartitions
}

// allAvailable reports whether an available list stands for every partition
// of a topic with n partitions: nil or empty by convention, and a list at least
// n long because it can name no other partitions than all of them.
func allAvailable(available []int32, n int) bool {
	return len(available) == 0 || len(available) >= n
}

// isAvailable reports whether partition p (already known to be below n) may
// be used given the available list passed to Sticky.Partition.
func isAvailable(available []int32, n int, p int32) bool {
	return allAvailable(available, n) || contains(available, p)
}

// contains reports whether list holds p. Lists sorted ascending are searched
// in logarithmic time; any other order still gives the right answer, by a
// linear scan after the binary search misses.
func contains(list []int32, p int32) bool {
	if p >= 0 && int(p) < len(list) && list[p] == p {
		return true
	}
	if _, found := slices.BinarySearch(list, p); found {
		return true
	}
	return slices.Contains(list, p)
}
