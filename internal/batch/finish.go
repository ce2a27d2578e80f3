package batch

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Offsets of the v2 batch header fields, all big-endian.
const (
	offBaseOffset      = 0  // int64, always 0 from a producer
	offBatchLength     = 8  // int32, bytes after this field
	offLeaderEpoch     = 12 // int32 partitionLeaderEpoch, -1 from a producer
	offMagic           = 16 // int8, 2
	offCRC             = 17 // uint32, CRC-32C from offAttributes to the end
	offAttributes      = 21 // int16
	offLastOffsetDelta = 23 // int32
	offBaseTimestamp   = 27 // int64
	offMaxTimestamp    = 35 // int64
	offProducerID      = 43 // int64
	offProducerEpoch   = 51 // int16
	offBaseSequence    = 53 // int32
	offRecordCount     = 57 // int32
)

const (
	magicV2 = 2

	// attrCodecMask selects the codec bits of the batch attributes.
	attrCodecMask = 0x07
	// attrTransactional marks a batch written inside a transaction.
	attrTransactional = 0x10

	// noProducerID, noProducerEpoch and noSequence are written while a
	// batch carries no producer identity.
	noProducerID    = -1
	noProducerEpoch = -1
	noSequence      = -1
)

// Finish finishes the batch: with comp non-nil and comp.Codec() not None it
// compresses the records section in place (into a pooled scratch buffer,
// copied back; buf grows only if the compressed form is larger), then writes
// the header (codec bits, lastOffsetDelta, timestamps, record count, the
// producer fields of an earlier Stamp or -1, and the CRC). Afterwards Bytes is
// the complete batch, ready for a ProduceRequest's Records field. comp nil
// means no compression. Closing an empty batch fails with ErrEmpty, closing
// twice with ErrFinished, closing one beyond the int32 length field with
// ErrTooLarge; a batch that fails to close stays open and unchanged.
func (b *Builder) Finish(comp *Compressor) error {
	if b.finished {
		return ErrFinished
	}
	if b.n == 0 {
		return ErrEmpty
	}
	if tooLarge(len(b.buf)) || b.n > math.MaxInt32 {
		return fmt.Errorf("%w: %d bytes, %d records", ErrTooLarge, len(b.buf), b.n)
	}
	rawLen := len(b.buf)
	codec := comp.Codec()
	if codec != None {
		sp := getScratch()
		out, err := comp.Compress((*sp)[:0], b.buf[Overhead:])
		if err == nil && tooLarge(Overhead+len(out)) {
			err = fmt.Errorf("%w: %d bytes compressed", ErrTooLarge, Overhead+len(out))
		}
		if err != nil {
			putScratch(sp)
			return fmt.Errorf("%w: %s: %w", ErrCompression, codec, err)
		}
		b.buf = append(b.buf[:Overhead], out...)
		*sp = out
		putScratch(sp)
	}
	b.finished, b.codec, b.rawLen = true, codec, rawLen
	b.recordsCRC = CRC32C(b.buf[Overhead:])
	b.recordsShift = xPow8n(uint32(len(b.buf) - Overhead))

	h := b.buf[:Overhead]
	binary.BigEndian.PutUint64(h[offBaseOffset:], 0)
	binary.BigEndian.PutUint32(h[offBatchLength:], uint32(len(b.buf)-offLeaderEpoch))
	binary.BigEndian.PutUint32(h[offLeaderEpoch:], math.MaxUint32) // -1
	h[offMagic] = magicV2
	binary.BigEndian.PutUint32(h[offLastOffsetDelta:], uint32(b.n-1))
	binary.BigEndian.PutUint64(h[offBaseTimestamp:], uint64(b.firstTS))
	binary.BigEndian.PutUint64(h[offMaxTimestamp:], uint64(b.maxTS))
	binary.BigEndian.PutUint32(h[offRecordCount:], uint32(b.n))
	b.writeProducer()
	return nil
}

// Stamp sets the producer id, epoch, base sequence and transactional bit of
// the batch. On a finished batch it rewrites those header fields and the CRC
// without reading the records again (the cost does not grow with the batch),
// and it may be called again with new values, as when a retry follows a
// producer id reset. On an open batch the values are kept and Close writes
// them.
func (b *Builder) Stamp(producerID int64, epoch int16, baseSequence int32, transactional bool) {
	b.stamped = true
	b.producerID, b.epoch, b.baseSeq, b.txn = producerID, epoch, baseSequence, transactional
	if b.finished {
		b.writeProducer()
	}
}

// writeProducer writes the attributes and producer fields of a finished batch
// and then its CRC.
func (b *Builder) writeProducer() {
	h := b.buf[:Overhead]
	attrs := uint16(b.codec) & attrCodecMask
	pid, epoch, seq := int64(noProducerID), int16(noProducerEpoch), int32(noSequence)
	if b.stamped {
		pid, epoch, seq = b.producerID, b.epoch, b.baseSeq
		if b.txn {
			attrs |= attrTransactional
		}
	}
	binary.BigEndian.PutUint16(h[offAttributes:], attrs)
	binary.BigEndian.PutUint64(h[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(h[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(h[offBaseSequence:], uint32(seq))
	crc := crcCombine(CRC32C(h[offAttributes:]), b.recordsShift, b.recordsCRC)
	binary.BigEndian.PutUint32(h[offCRC:], crc)
}

// tooLarge reports whether a batch of size bytes overflows the int32 batch
// length field.
func tooLarge(size int) bool { return size-offLeaderEpoch > math.MaxInt32 }

// Finished reports whether Finish has finished the batch.
func (b *Builder) Finished() bool { return b.finished }

// Bytes returns the finished batch, header and records, as it goes on the
// wire; nil before Finish. The slice aliases the Builder's buffer.
func (b *Builder) Bytes() []byte {
	if !b.finished {
		return nil
	}
	return b.buf
}

// Codec returns the codec the batch was compressed with at Finish (None
// before Finish).
func (b *Builder) Codec() Codec { return b.codec }
