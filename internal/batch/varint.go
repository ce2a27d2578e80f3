package batch

import "math/bits"

// Kafka varints are zigzag encoded: small magnitudes, negative or positive,
// take few bytes.

// maxVarlongLen is the widest encoding of an int64 varint.
const maxVarlongLen = 10

// maxVarintLen is the widest encoding of an int32 varint.
const maxVarintLen = 5

// zigzag maps signed to unsigned so that small magnitudes stay small.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// varintLen is the number of bytes of v's zigzag varint encoding.
func varintLen(v int64) int {
	return (bits.Len64(zigzag(v)|1) + 6) / 7
}

// appendVarint appends v as a zigzag varint.
func appendVarint(b []byte, v int64) []byte {
	u := zigzag(v)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// bytesLen is the encoded size of a length-prefixed byte field; nil is
// written as length -1.
func bytesLen(p []byte) int {
	if p == nil {
		return 1
	}
	return varintLen(int64(len(p))) + len(p)
}

// appendBytes appends a length-prefixed byte field, nil as length -1.
func appendBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, 1) // zigzag(-1)
	}
	b = appendVarint(b, int64(len(p)))
	return append(b, p...)
}

// appendString appends a length-prefixed string field.
func appendString(b []byte, s string) []byte {
	b = appendVarint(b, int64(len(s)))
	return append(b, s...)
}
