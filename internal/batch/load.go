package batch

import (
	"encoding/binary"
	"fmt"
)

// Load makes b the finished batch in buf, a batch that Finish wrote earlier
// (read back from a disk spool): b then answers Bytes, NumRecords and the
// timestamps as after that Finish, and Stamp rewrites its producer fields as
// it would have. rawLen is the batch's size before compression, for the
// caller's ratio figures (Load cannot know it without decompressing). buf is
// used in place, not copied. A buffer that is not a whole v2 batch with a
// matching CRC fails with ErrCorrupt and leaves b unchanged.
func (b *Builder) Load(buf []byte, rawLen int) error {
	if len(buf) < Overhead {
		return fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorrupt, len(buf))
	}
	h := buf[:Overhead]
	if got := int64(binary.BigEndian.Uint32(h[offBatchLength:])); got != int64(len(buf)-offLeaderEpoch) {
		return fmt.Errorf("%w: batch length field %d, %d bytes follow it", ErrCorrupt, got, len(buf)-offLeaderEpoch)
	}
	if h[offMagic] != magicV2 {
		return fmt.Errorf("%w: magic %d", ErrCorrupt, h[offMagic])
	}
	attrs := binary.BigEndian.Uint16(h[offAttributes:])
	codec := Codec(attrs & attrCodecMask)
	if !codec.valid() {
		return fmt.Errorf("%w: codec bits %d", ErrCorrupt, codec)
	}
	n := int32(binary.BigEndian.Uint32(h[offRecordCount:]))
	if n <= 0 || int32(binary.BigEndian.Uint32(h[offLastOffsetDelta:])) != n-1 {
		return fmt.Errorf("%w: %d records, last offset delta %d", ErrCorrupt, n, int32(binary.BigEndian.Uint32(h[offLastOffsetDelta:])))
	}
	if CRC32C(buf[offAttributes:]) != binary.BigEndian.Uint32(h[offCRC:]) {
		return fmt.Errorf("%w: batch CRC mismatch", ErrCorrupt)
	}
	seq := int32(binary.BigEndian.Uint32(h[offBaseSequence:]))
	*b = Builder{
		buf:          buf,
		n:            int(n),
		firstTS:      int64(binary.BigEndian.Uint64(h[offBaseTimestamp:])),
		maxTS:        int64(binary.BigEndian.Uint64(h[offMaxTimestamp:])),
		finished:     true,
		codec:        codec,
		rawLen:       rawLen,
		recordsCRC:   CRC32C(buf[Overhead:]),
		recordsShift: xPow8n(uint32(len(buf) - Overhead)),
	}
	if codec == None || rawLen < len(buf) {
		b.rawLen = len(buf)
	}
	if seq != noSequence {
		b.stamped = true
		b.producerID = int64(binary.BigEndian.Uint64(h[offProducerID:]))
		b.epoch = int16(binary.BigEndian.Uint16(h[offProducerEpoch:]))
		b.baseSeq = seq
		b.txn = attrs&attrTransactional != 0
	}
	return nil
}

// Stamped returns the producer id, epoch and base sequence the batch carries,
// and whether it carries any (Stamp was called, or Load read a stamped batch).
func (b *Builder) Stamped() (producerID int64, epoch int16, baseSequence int32, ok bool) {
	return b.producerID, b.epoch, b.baseSeq, b.stamped
}
