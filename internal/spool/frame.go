package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Segment files are made of frames: entries, and done frames naming entries
// acknowledged since. All integers are big-endian.
//
//	offset size field
//	     0    4 magic        0x4B535046 ("KSPF")
//	     4    1 version      1
//	     5    1 kind         1 = entry, 2 = done
//	     6    2 reserved     0
//	     8    8 id           entry: its id, 1 to maxID, increasing through the spool; done: 0
//	    16    4 meta length  bytes of metadata that follow the header; done: 0
//	    20    4 data length  bytes of data that follow the metadata
//	    24    4 crc          CRC-32C (Castagnoli) of bytes 0..23, then meta, then data
//	    28      meta, then data
//
// A done frame's data is the ids it names, 8 bytes each (at least one); it
// has no id of its own and no metadata. It says the entries were
// acknowledged: Open does not return them. It is always written after the
// entries it names, in the same segment or a newer one. Kind 2 came with no
// change of version: spools of entries only read as before (a reader that
// knows only kind 1 would quarantine a done frame).
//
// A header is impossible when its magic, version, kind or reserved bytes
// differ from the above, an entry's id is 0 or above maxID, a done frame's
// id or meta length is not 0 or its data is not a whole number of ids, or
// the lengths add up to more than MaxFrameBytes. The CRC covers the header
// too, so a flipped length or id is caught even when the header still looks
// possible.
const (
	frameMagic   = 0x4B535046
	frameVersion = 1
	kindEntry    = 1
	kindDone     = 2
	headerLen    = 28

	// doneFrameIDs bounds the ids in one done frame (64 KiB of data);
	// DoneMany writes more as several frames.
	doneFrameIDs = 8192

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
	kind    byte
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

// appendDoneFrame appends a done frame naming ids (1 to doneFrameIDs of
// them) to buf.
func appendDoneFrame(buf []byte, ids []uint64) []byte {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, frameMagic)
	buf = append(buf, frameVersion, kindDone, 0, 0)
	buf = binary.BigEndian.AppendUint64(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(8*len(ids)))
	buf = append(buf, 0, 0, 0, 0) // the crc, once the ids are in
	for _, id := range ids {
		buf = binary.BigEndian.AppendUint64(buf, id)
	}
	crc := crc32.Update(0, castagnoli, buf[start:start+24])
	crc = crc32.Update(crc, castagnoli, buf[start+headerLen:])
	binary.BigEndian.PutUint32(buf[start+24:], crc)
	return buf
}

// doneIDs appends the ids a done frame's data names to ids.
func doneIDs(ids []uint64, data []byte) []uint64 {
	for ; len(data) >= 8; data = data[8:] {
		ids = append(ids, binary.BigEndian.Uint64(data))
	}
	return ids
}

// parseHeader decodes b (headerLen bytes) and refuses impossible headers
// with errBadHeader.
func parseHeader(b []byte) (header, error) {
	h := header{
		kind:    b[5],
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
	case h.kind != kindEntry && h.kind != kindDone:
		return h, fmt.Errorf("%w: kind %d", errBadHeader, h.kind)
	case b[6] != 0 || b[7] != 0:
		return h, fmt.Errorf("%w: reserved bytes %#x %#x", errBadHeader, b[6], b[7])
	case h.kind == kindEntry && (h.id == 0 || h.id > maxID):
		return h, fmt.Errorf("%w: id %d", errBadHeader, h.id)
	case h.kind == kindDone && (h.id != 0 || h.metaLen != 0 || h.dataLen == 0 || h.dataLen%8 != 0):
		return h, fmt.Errorf("%w: done frame with id %d, %d+%d bytes", errBadHeader, h.id, h.metaLen, h.dataLen)
	case h.payloadLen() > MaxFrameBytes:
		return h, fmt.Errorf("%w: %d bytes of payload", errBadHeader, h.payloadLen())
	}
	return h, nil
}

// headerCRC starts a frame's CRC: the one over its header's first 24 bytes.
func headerCRC(b []byte) uint32 { return crc32.Update(0, castagnoli, b[:24]) }
