package batch

import "slices"

// Overhead is the size in bytes of a v2 record batch header, the part before
// the records section.
const Overhead = 61

// emptyHeader fills the header's place until Finish writes it.
var emptyHeader [Overhead]byte

// Builder is one partition's open record batch. Records are encoded into its
// buffer as they are appended; Finish turns the buffer into a finished batch.
// A Builder is not safe for concurrent use: the producer holds the
// partition's lock around it. The zero value is an empty open batch with no
// buffer, as after Reset(nil).
type Builder struct {
	buf     []byte // header (filled at Finish) then the records section
	n       int    // records appended
	firstTS int64  // timestamp of the first record: the base timestamp
	maxTS   int64  // largest timestamp appended

	finished   bool
	codec      Codec  // codec the records section was compressed with at Finish
	rawLen     int    // uncompressed size of the batch, set at Finish
	recordsCRC uint32 // CRC-32C of the records section as sent, set at Finish
	// recordsShift carries a CRC past the records section: x^(8*len) modulo
	// the CRC polynomial, set at Finish.
	recordsShift uint32

	stamped    bool // Stamp was called; otherwise the producer fields are -1
	producerID int64
	epoch      int16
	baseSeq    int32
	txn        bool
}

// Reset starts a new, empty batch that writes into buf[:0], reusing buf's
// capacity; nil is fine. A recycled buffer (see Buffer) that is large enough
// means the whole batch is built without allocating. Overhead bytes are
// reserved at the front for the header. Everything else is forgotten,
// including an earlier Stamp.
func (b *Builder) Reset(buf []byte) {
	*b = Builder{buf: append(buf[:0], emptyHeader[:]...)}
}

// Append encodes one record at the end of the batch. ts is the record's
// timestamp in milliseconds; the first record's becomes the batch's base
// timestamp and later ones are stored as deltas from it (which may be
// negative). A nil key or value is written as null, an empty non-nil one as
// empty. The bytes are copied, so the caller may reuse its slices at once.
// Append does not allocate when the buffer has room. Appending to a finished
// batch does nothing: check Closed, or AppendSize against the batch limit,
// before appending.
func (b *Builder) Append(ts int64, key, value []byte, headers []Header) {
	if b.finished {
		return
	}
	if len(b.buf) < Overhead {
		b.buf = append(b.buf[:0], emptyHeader[:]...)
	}
	if b.n == 0 {
		b.firstTS, b.maxTS = ts, ts
	} else if ts > b.maxTS {
		b.maxTS = ts
	}
	tsDelta, offsetDelta := ts-b.firstTS, int64(b.n)
	body := recordBodyLen(tsDelta, offsetDelta, key, value, headers)
	if need := varintLen(int64(body)) + body; cap(b.buf)-len(b.buf) < need {
		b.buf = slices.Grow(b.buf, need)
	}
	b.buf = appendRecord(b.buf, body, tsDelta, offsetDelta, key, value, headers)
	b.n++
}

// AppendSize returns exactly how many bytes Append(ts, key, value, headers)
// would add to the batch now. It does not allocate; the producer uses it to
// decide whether a record still fits the open batch.
func (b *Builder) AppendSize(ts int64, key, value []byte, headers []Header) int {
	var tsDelta int64
	if b.n > 0 {
		tsDelta = ts - b.firstTS
	}
	body := recordBodyLen(tsDelta, int64(b.n), key, value, headers)
	return varintLen(int64(body)) + body
}

// EstimateSize returns an upper bound of the size of an uncompressed batch
// holding only this record, counting the widest varints for its timestamp
// and offset deltas. The producer uses it to reject a record larger than
// max.request.size before any batch exists.
func EstimateSize(key, value []byte, headers []Header) int {
	body := recordBodyLen(0, 0, key, value, headers) - 2 + maxVarlongLen + maxVarintLen
	return Overhead + varintLen(int64(body)) + body
}

// MaxHeaderlessOverhead bounds what a batch of one record without headers
// adds to its key and value: EstimateSize(key, value, nil) is at most
// len(key)+len(value)+MaxHeaderlessOverhead. A caller can skip the estimate
// for records far below its limit.
const MaxHeaderlessOverhead = Overhead + maxVarintLen + // record length
	1 + maxVarlongLen + maxVarintLen + // attributes, timestamp and offset deltas
	2*maxVarintLen + 1 // key and value lengths, header count

// Len returns the size of the batch in bytes, header included, before
// compression. After Finish it stays the uncompressed size; len(Bytes()) is
// the size on the wire.
func (b *Builder) Len() int {
	if b.finished {
		return b.rawLen
	}
	return max(len(b.buf), Overhead)
}

// NumRecords returns how many records the batch holds.
func (b *Builder) NumRecords() int { return b.n }

// FirstTimestamp returns the first record's timestamp in milliseconds, the
// batch's base timestamp (0 while the batch is empty).
func (b *Builder) FirstTimestamp() int64 { return b.firstTS }

// MaxTimestamp returns the largest record timestamp in milliseconds (0 while
// the batch is empty).
func (b *Builder) MaxTimestamp() int64 { return b.maxTS }

// Buffer returns the batch's underlying buffer, so that it can be recycled
// (passed to a later Reset) once the batch has been answered. The Builder
// must not be used again before its own next Reset.
func (b *Builder) Buffer() []byte { return b.buf }
