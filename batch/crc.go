package batch

import "hash/crc32"

// castagnoli is the CRC-32C table; the batch CRC uses it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC-32C (Castagnoli) checksum of data, the checksum a v2
// record batch carries over everything from its attributes to its end.
func CRC32C(data []byte) uint32 {
	return crc32.Checksum(data, castagnoli)
}

// crcPoly is the reflected Castagnoli polynomial.
const crcPoly = 0x82f63b78

// crcShifts[k] is x^(2^k) modulo the polynomial, in reflected form: the
// factor that moves a CRC past 2^k zero bits.
var crcShifts = func() (t [64]uint32) {
	t[0] = 1 << 30 // x^1; x^0 is the top bit in reflected form
	for k := 1; k < len(t); k++ {
		t[k] = gfMul(t[k-1], t[k-1])
	}
	return t
}()

// gfMul multiplies a and b as polynomials over GF(2) modulo the Castagnoli
// polynomial, both in reflected form.
func gfMul(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ crcPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// crcCombine returns the CRC-32C of A followed by B, given crcA = CRC32C(A),
// crcB = CRC32C(B) and lenB = len(B). It costs O(log lenB), so a batch can be
// re-stamped without reading its records again.
func crcCombine(crcA, crcB uint32, lenB int) uint32 {
	// Appending B to A multiplies A's CRC by x^(8*lenB); the pre- and
	// post-conditioning of the two CRCs cancel out in the XOR.
	shift := uint32(1) << 31 // x^0
	bits := uint64(lenB) * 8
	for k := 0; bits != 0; k, bits = k+1, bits>>1 {
		if bits&1 != 0 {
			shift = gfMul(crcShifts[k], shift)
		}
	}
	return gfMul(shift, crcA) ^ crcB
}
