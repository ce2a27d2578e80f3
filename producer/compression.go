package producer

import "github.com/kprod/kprod/internal/batch"

// Compression is the codec record batches are compressed with (Java
// compression.type). Kafka decompresses on read, so consumers need no setting.
type Compression int8

// The codecs, numbered as in the record batch's attributes.
const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4 // needs brokers with Produce v7+ (Kafka 2.1)
)

// The codes are the batch format's; these fail to compile if they drift.
var (
	_ = [1]struct{}{}[CompressionNone-Compression(batch.None)]
	_ = [1]struct{}{}[CompressionGzip-Compression(batch.Gzip)]
	_ = [1]struct{}{}[CompressionSnappy-Compression(batch.Snappy)]
	_ = [1]struct{}{}[CompressionLZ4-Compression(batch.LZ4)]
	_ = [1]struct{}{}[CompressionZstd-Compression(batch.Zstd)]
)

// ParseCompression reads a Java compression.type name: none, gzip, snappy,
// lz4 or zstd (case-insensitive). A bad name is an error wrapping
// ErrInvalidConfig.
func ParseCompression(name string) (Compression, error) {
	c, err := batch.ParseCodec(name)
	if err != nil {
		return CompressionNone, configError("compression.type", "%v", err)
	}
	return Compression(c), nil
}

// String is the Java compression.type name.
func (c Compression) String() string { return batch.Codec(c).String() }

func (c Compression) codec() batch.Codec { return batch.Codec(c) }
