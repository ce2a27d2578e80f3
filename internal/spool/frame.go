package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// A frame is one entry in a segment file. All integers are big-endian.
//
//	offset size field
//	     0    4 magic        0x4B535046 ("KSPF")
//	     4    1 version      1
//	     5    1 kind         1 = entry (the only kind so far)
//	     6    2 reserved     0
//	     8    8 id           the entry's id: 1 to maxID, increasing through the spool
//	    16    4 meta length  bytes of metadata that follow the header
//	    20    4 data length  bytes of data that follow the metadata
//	    24    4 crc          CRC-32C (Castagnoli) of bytes 0..23, then meta, then data
//	    28      meta, then data
//
// A header is impossible when its magic, version, kind or reserved bytes
// differ from the above, its id is 0 or above maxID, or its lengths add up to more than
// MaxFrameBytes. The CRC covers the header too, so a flipped length or id
// is caught even when the header still looks possible.
const (
	frameMagic   = 0x4B535046
	frameVersion = 1
	kindEntry    = 1
	headerLen    = 28

	// maxID bounds ids (and the numbers in segment names) far below
	// the uint64 limit, so the next id after any on disk never wraps.
	maxID = 1 << 62
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Why a frame was refused; wrapped in ErrCorrupt when it leads to
// quarantine.
var (
	errBadHeader = errors.New("impossible frame header")
	errBadCRC    = errors.New("frame CRC mismatch")
	errTruncated = errors.New("truncated frame")
	errIDOrder   = errors.New("frame id not above the previous one")
)

// header is a frame's header, decoded.
type header struct {
	id      uint64
	metaLen uint32
	dataLen uint32
	crc     uint32
}

// payloadLen is the bytes after the header.
func (h header) payloadLen() int64 { return int64(h.metaLen) + int64(h.dataLen) }

// appendFrame appends the frame of one entry to buf.
func appendFrame(buf []byte, id uint64, meta, data []byte) []byte {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, frameMagic)
	buf = append(buf, frameVersion, kindEntry, 0, 0)
	buf = binary.BigEndian.AppendUint64(buf, id)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(meta)))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(data)))
	crc := crc32.Update(0, castagnoli, buf[start:])
	crc = crc32.Update(crc, castagnoli, meta)
	crc = crc32.Update(crc, castagnoli, data)
	buf = binary.BigEndian.AppendUint32(buf, crc)
	buf = append(buf, meta...)
	return append(buf, data...)
}

// parseHeader decodes b (headerLen bytes) and refuses impossible headers
// with errBadHeader.
func parseHeader(b []byte) (header, error) {
	h := header{
		id:      binary.BigEndian.Uint64(b[8:]),
		metaLen: binary.BigEndian.Uint32(b[16:]),
		dataLen: binary.BigEndian.Uint32(b[20:]),
		crc:     binary.BigEndian.Uint32(b[24:]),
	}
	switch {
	case binary.BigEndian.Uint32(b) != frameMagic:
		return h, fmt.Errorf("%w: magic %#08x", errBadHeader, binary.BigEndian.Uint32(b))
	case b[4] != frameVersion:
		return h, fmt.Errorf("%w: version %d", errBadHeader, b[4])
	case b[5] != kindEntry:
		return h, fmt.Errorf("%w: kind %d", errBadHeader, b[5])
	case b[6] != 0 || b[7] != 0:
		return h, fmt.Errorf("%w: reserved bytes %#x %#x", errBadHeader, b[6], b[7])
	case h.id == 0 || h.id > maxID:
		return h, fmt.Errorf("%w: id %d", errBadHeader, h.id)
	case h.payloadLen() > MaxFrameBytes:
		return h, fmt.Errorf("%w: %d bytes of payload", errBadHeader, h.payloadLen())
	}
	return h, nil
}

// headerCRC starts a frame's CRC: the one over its header's first 24 bytes.
func headerCRC(b []byte) uint32 { return crc32.Update(0, castagnoli, b[:24]) }
