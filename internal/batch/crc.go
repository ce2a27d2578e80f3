package batch

import (
	"hash/crc32"
	"sync"
)

// castagnoli is the CRC-32C table; the batch CRC uses it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC-32C (Castagnoli) checksum of data, the checksum a v2
// record batch carries over everything from its attributes to its end.
func CRC32C(data []byte) uint32 {
	return crc32.Checksum(data, castagnoli)
}

// The CRC of a batch is recomputed on every Stamp without reading the records
// again. A CRC is linear: the CRC of A followed by B equals the CRC of A
// multiplied by x^(8*len(B)) modulo the polynomial, XORed with the CRC of B
// (the pre- and post-conditioning of the two CRCs cancel out). Finish keeps
// the CRC of the records and that power of x; a Stamp then costs a 40-byte
// CRC of the header and one multiplication.

// crcPoly is the reflected Castagnoli polynomial. In reflected form the top
// bit of a uint32 is the coefficient of x^0.
const crcPoly = 0x82f63b78

// gfMul multiplies a and b as polynomials over GF(2) modulo the Castagnoli
// polynomial, both in reflected form. It has no data-dependent branches.
func gfMul(a, b uint32) uint32 {
	var p uint32
	for range 32 {
		p ^= b & -(a >> 31) // add b when a's current coefficient is set
		a <<= 1
		b = b>>1 ^ crcPoly&-(b&1) // b *= x
	}
	return p
}

// xPowTables[j][i] is x^(8 * i * 256^j) modulo the polynomial: with them,
// the power of x for any byte count takes at most three multiplications.
var (
	xPowOnce   sync.Once
	xPowTables [4][256]uint32
)

func initXPowTables() {
	step := uint32(1) << 23 // x^8, the factor of one byte
	for j := range xPowTables {
		t := &xPowTables[j]
		t[0] = 1 << 31 // x^0
		for i := 1; i < 256; i++ {
			t[i] = gfMul(t[i-1], step)
		}
		step = gfMul(t[255], step) // x^(8 * 256^(j+1))
	}
}

// xPow8n returns x^(8n) modulo the polynomial: the factor that carries a CRC
// past n bytes.
func xPow8n(n uint32) uint32 {
	xPowOnce.Do(initXPowTables)
	p := xPowTables[0][n&0xff]
	for j := 1; j < 4; j++ {
		if n >>= 8; n == 0 {
			break
		}
		if i := n & 0xff; i != 0 {
			p = gfMul(p, xPowTables[j][i])
		}
	}
	return p
}

// crcCombine returns the CRC-32C of A followed by B, given crcA = CRC32C(A)
// and shiftB = xPow8n(len(B)), crcB = CRC32C(B).
func crcCombine(crcA, shiftB, crcB uint32) uint32 {
	return gfMul(shiftB, crcA) ^ crcB
}
