package partitioner

// murmur2Reference is a deliberately plain second implementation of the key
// hash, written the way the algorithm is usually specified for a language
// with signed 32-bit ints: byte at a time, Java-style sign handling, and the
// tail bytes folded in from the highest one down. The fuzz target holds
// Murmur2 to it.
func murmur2Reference(data []byte) int32 {
	const m int32 = 0x5bd1e995
	const seed = int32(-1756908916) // 0x9747b28c as a signed int

	// ushr is a logical (unsigned) right shift of a signed int.
	ushr := func(x int32, n uint) int32 { return int32(uint32(x) >> n) }
	// unsigned returns a byte as the non-negative int a signed byte masks to.
	unsigned := func(b byte) int32 { return int32(int8(b)) & 0xff }

	length := len(data)
	h := seed ^ int32(length)
	blocks := length / 4
	for i := 0; i < blocks; i++ {
		var k int32
		for j := 3; j >= 0; j-- {
			k = k<<8 | unsigned(data[i*4+j])
		}
		k *= m
		k ^= ushr(k, 24)
		k *= m
		h *= m
		h ^= k
	}

	tail := data[blocks*4:]
	if len(tail) > 0 {
		for j := len(tail) - 1; j >= 0; j-- {
			h ^= unsigned(tail[j]) << (8 * uint(j))
		}
		h *= m
	}

	h ^= ushr(h, 13)
	h *= m
	h ^= ushr(h, 15)
	return h
}
