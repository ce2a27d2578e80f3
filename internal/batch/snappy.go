package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
)

// The xerial framing that the Java producer writes for snappy: a 16-byte
// header (magic, version 1, minimum compatible version 1), then blocks of a
// big-endian int32 length followed by a raw snappy block of up to 32 KiB of
// input.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderLen = 16
	xerialVersion   = 1
	xerialBlockSize = 32 << 10
)

// The snappy framing format: chunks of a type byte and a 24-bit little-endian
// length, starting with a stream identifier chunk.
var framedStreamID = []byte{0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y'}

const (
	framedCompressed   = 0x00
	framedUncompressed = 0x01
	framedMaxReserved  = 0x7f // 0x02..0x7f are reserved and must not be skipped
	framedStreamIDType = 0xff
	framedMaxChunkData = 65536 // uncompressed bytes of one data chunk
	framedCRCMask      = 0xa282ead8
)

var (
	errSnappyStreamID   = errors.New("bad snappy stream identifier")
	errSnappyChecksum   = errors.New("snappy chunk checksum mismatch")
	errSnappyReserved   = errors.New("reserved unskippable snappy chunk")
	errSnappyChunkLarge = errors.New("snappy chunk larger than 64 KiB")
)

// snappyCompress appends src to dst in xerial framing.
func snappyCompress(dst, src []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, xerialVersion)
	dst = binary.BigEndian.AppendUint32(dst, xerialVersion)
	for len(src) > 0 {
		chunk := src[:min(len(src), xerialBlockSize)]
		src = src[len(chunk):]
		bound := s2.MaxEncodedLen(len(chunk))
		at := len(dst)
		dst = slices.Grow(dst, 4+bound)[:at+4+bound]
		enc := s2.EncodeSnappy(dst[at+4:], chunk) // encodes in place: the room is there
		binary.BigEndian.PutUint32(dst[at:], uint32(len(enc)))
		dst = dst[:at+4+len(enc)]
	}
	return dst
}

// snappyDecompress appends the data of src to dst; src is xerial framed, in
// the snappy framing format, or a single raw snappy block.
func snappyDecompress(dst, src []byte) ([]byte, error) {
	switch {
	case len(src) == 0:
		return dst, errEmpty
	case bytes.HasPrefix(src, xerialMagic):
		return xerialDecode(dst, src)
	case bytes.HasPrefix(src, framedStreamID):
		return framedDecode(dst, src)
	default:
		return snappyBlock(dst, src, len(dst))
	}
}

// snappyBlock appends the decoding of one raw snappy block to dst, failing
// if the output since start would pass MaxDecompressedSize.
func snappyBlock(dst, block []byte, start int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return dst, err
	}
	if n > MaxDecompressedSize-(len(dst)-start) {
		return dst, errTooLarge
	}
	at := len(dst)
	dst = slices.Grow(dst, n)
	if _, err := s2.Decode(dst[at:at+n], block); err != nil {
		return dst, err
	}
	return dst[:at+n], nil
}

// xerialDecode appends the data of xerial framed src to dst. A header in the
// middle (concatenated streams) is skipped.
func xerialDecode(dst, src []byte) ([]byte, error) {
	start := len(dst)
	for len(src) > 0 {
		if bytes.HasPrefix(src, xerialMagic) {
			if len(src) < xerialHeaderLen {
				return dst, errTruncated
			}
			src = src[xerialHeaderLen:]
			continue
		}
		if len(src) < 4 {
			return dst, errTruncated
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return dst, errTruncated
		}
		var err error
		if dst, err = snappyBlock(dst, src[:n], start); err != nil {
			return dst, err
		}
		src = src[n:]
	}
	return dst, nil
}

// framedDecode appends the data of src, in the snappy framing format, to
// dst, checking every chunk's checksum.
func framedDecode(dst, src []byte) ([]byte, error) {
	start := len(dst)
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, errTruncated
		}
		typ := src[0]
		n := int(src[1]) | int(src[2])<<8 | int(src[3])<<16
		src = src[4:]
		if n > len(src) {
			return dst, errTruncated
		}
		body := src[:n]
		src = src[n:]
		switch {
		case typ == framedStreamIDType:
			if !bytes.Equal(body, framedStreamID[4:]) {
				return dst, errSnappyStreamID
			}
		case typ == framedCompressed || typ == framedUncompressed:
			if len(body) < 4 {
				return dst, errTruncated
			}
			want := binary.LittleEndian.Uint32(body)
			data := body[4:]
			at := len(dst)
			if typ == framedCompressed {
				if l, err := s2.DecodedLen(data); err == nil && l > framedMaxChunkData {
					return dst, errSnappyChunkLarge
				}
				var err error
				if dst, err = snappyBlock(dst, data, start); err != nil {
					return dst, err
				}
			} else {
				if len(data) > framedMaxChunkData {
					return dst, errSnappyChunkLarge
				}
				if len(data) > MaxDecompressedSize-(len(dst)-start) {
					return dst, errTooLarge
				}
				dst = append(dst, data...)
			}
			if got := maskedCRC(dst[at:]); got != want {
				return dst, fmt.Errorf("%w: got %#x, want %#x", errSnappyChecksum, got, want)
			}
		case typ <= framedMaxReserved:
			return dst, fmt.Errorf("%w: type %#x", errSnappyReserved, typ)
		default:
			// Skippable chunks (0x80..0xfe, padding included) carry nothing.
		}
	}
	return dst, nil
}

// maskedCRC is the checksum of a snappy framing data chunk: the CRC-32C of
// the uncompressed data, rotated and offset so that checksumming data that
// holds checksums stays well behaved.
func maskedCRC(data []byte) uint32 {
	c := CRC32C(data)
	return (c>>15 | c<<17) + framedCRCMask
}
