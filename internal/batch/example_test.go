package batch_test

import (
	"fmt"

	"github.com/kprod/kprod/internal/batch"
)

// A producer appends records to a partition's open batch, closes it with the
// topic's codec when it is ready to send, and stamps the producer identity
// when the sender drains it.
func Example() {
	comp, err := batch.NewCompressor(batch.LZ4, batch.DefaultLevel)
	if err != nil {
		panic(err)
	}

	var b batch.Builder
	b.Reset(make([]byte, 0, 16<<10)) // a recycled buffer means no allocation
	now := int64(1_700_000_000_000)
	for i := range 3 {
		b.Append(now+int64(i), []byte("user-42"), fmt.Appendf(nil, "event %d", i),
			[]batch.Header{{Key: "source", Value: []byte("example")}})
	}
	if err := b.Finish(comp); err != nil {
		panic(err)
	}
	b.Stamp(1001, 0, 0, false) // producer id, epoch, base sequence, not transactional

	fmt.Println(b.NumRecords(), b.Codec())
	// b.Bytes() now goes into a ProduceRequest's Records field.
	// Output: 3 lz4
}

// Codec names and levels come from configuration such as the Java
// producer's compression.type and compression.<codec>.level.
func ExampleParseCodec() {
	c, err := batch.ParseCodec("ZSTD")
	fmt.Println(c, err)
	fmt.Println(c.CheckLevel(30))
	_, err = batch.ParseCodec("brotli")
	fmt.Println(err)
	// Output:
	// zstd <nil>
	// batch: invalid compression level: zstd accepts -131072..22, got 30
	// batch: unknown compression codec: "brotli" (want none, gzip, snappy, lz4 or zstd)
}
