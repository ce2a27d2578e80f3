package interop

// Message is one record as kcat printed it.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	// TimestampType is kcat's name for the timestamp's kind: "create",
	// "logappend" or "none".
	TimestampType string
	Timestamp     int64 // milliseconds since the epoch
	Broker        int32 // the broker kcat fetched the record from
	Key           []byte
	Value         []byte
	Headers       []Header
}

// Header is one record header. A nil Value is a null header value, an empty
// non-nil one is empty; the same holds for Message.Key and Message.Value.
type Header struct {
	Key   string
	Value []byte
}
