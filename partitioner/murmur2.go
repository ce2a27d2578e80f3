package partitioner

import "encoding/binary"

// Constants of the 32-bit murmur2 hash as Kafka clients use it.
const (
	murmurSeed uint32 = 0x9747b28c
	murmurMul  uint32 = 0x5bd1e995
	murmurRot         = 24
)

// Murmur2 returns the 32-bit murmur2 hash of data exactly as the Java client
// computes it, so that keyed records map to the same partitions whichever
// client produced them. A nil and an empty slice hash alike.
func Murmur2(data []byte) int32 {
	h := murmurSeed ^ uint32(len(data))

	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		data = data[4:]
		k *= murmurMul
		k ^= k >> murmurRot
		k *= murmurMul
		h *= murmurMul
		h ^= k
	}

	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		h ^= uint32(data[1]) << 8
		h ^= uint32(data[0])
		h *= murmurMul
	case 2:
		h ^= uint32(data[1]) << 8
		h ^= uint32(data[0])
		h *= murmurMul
	case 1:
		h ^= uint32(data[0])
		h *= murmurMul
	}

	h ^= h >> 13
	h *= murmurMul
	h ^= h >> 15
	return int32(h)
}

// ToPositive clears the sign bit of n (n & 0x7fffffff). This is how Kafka
// clients turn a hash into a non-negative number; note it is not an absolute
// value: ToPositive(-1) is 2147483647.
func ToPositive(n int32) int32 {
	return n & 0x7fffffff
}

// KeyPartition returns the partition a record with the given key goes to:
// ToPositive(Murmur2(key)) modulo numPartitions, counted over all partitions
// of the topic whether or not they currently have a leader, so a key keeps its
// partition through leader failures. It returns NoPartition if numPartitions
// is less than 1.
func KeyPartition(key []byte, numPartitions int) int32 {
	if numPartitions < 1 {
		return NoPartition
	}
	return int32(int(ToPositive(Murmur2(key))) % numPartitions)
}
