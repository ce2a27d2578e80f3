package batch

// Header is one record header. Kafka header keys are never null; a nil
// Value is written as null, an empty non-nil Value as empty. An alias of an
// unnamed struct, so the producer's public Header is the same type.
type Header = struct {
	Key   string
	Value []byte
}

// Record is one record decoded from a batch, as EachRecord yields it; the
// producer uses it to split a batch the broker found too large.
type Record struct {
	Timestamp int64    // the record's timestamp in ms (base timestamp + delta)
	Key       []byte   // nil when the key is null
	Value     []byte   // nil when the value is null
	Headers   []Header // nil when the record has none
}

// recordBodyLen is the size of a record after its length prefix: attributes,
// timestamp delta, offset delta, key, value and headers.
func recordBodyLen(tsDelta, offsetDelta int64, key, value []byte, headers []Header) int {
	n := 1 + varintLen(tsDelta) + varintLen(offsetDelta) + bytesLen(key) + bytesLen(value) + varintLen(int64(len(headers)))
	for i := range headers {
		h := &headers[i]
		n += varintLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	return n
}

// appendRecord appends one record whose body is bodyLen bytes long.
func appendRecord(b []byte, bodyLen int, tsDelta, offsetDelta int64, key, value []byte, headers []Header) []byte {
	b = appendVarint(b, int64(bodyLen))
	b = append(b, 0) // record attributes: unused
	b = appendVarint(b, tsDelta)
	b = appendVarint(b, offsetDelta)
	b = appendBytes(b, key)
	b = appendBytes(b, value)
	b = appendVarint(b, int64(len(headers)))
	for i := range headers {
		b = appendString(b, headers[i].Key)
		b = appendBytes(b, headers[i].Value)
	}
	return b
}
