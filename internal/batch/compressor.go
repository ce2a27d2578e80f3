package batch

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// MaxDecompressedSize bounds how many bytes one Decompress call may produce.
// Input that would decompress to more is reported as ErrCorrupt, so a
// hostile or broken batch cannot exhaust memory. It is far above any batch a
// broker accepts (message.max.bytes defaults to about 1 MiB).
const MaxDecompressedSize = 256 << 20

// Compressor compresses record sections with one codec at one level. It is
// safe for concurrent use: its encoders and their buffers are pooled and
// shared by every Compressor of the same codec and level, so a steady stream
// of Compress calls allocates nothing. The zero value compresses nothing
// (codec None).
type Compressor struct {
	codec Codec
	level int
	gzip  *gzipPool     // gzip encoders at this level
	lz4   *lz4Pool      // lz4 frame writers at this level
	zstd  *zstd.Encoder // shared zstd encoder at this level
}

// NewCompressor returns a Compressor for codec c at level, which is
// DefaultLevel or a level that c.CheckLevel accepts. Errors wrap
// ErrUnknownCodec or ErrInvalidLevel.
func NewCompressor(c Codec, level int) (*Compressor, error) {
	if err := c.CheckLevel(level); err != nil {
		return nil, err
	}
	comp := &Compressor{codec: c, level: level}
	switch c {
	case Gzip:
		comp.gzip = gzipPoolFor(level)
	case LZ4:
		comp.lz4 = lz4PoolFor(level)
	case Zstd:
		enc, err := zstdEncoder(level)
		if err != nil {
			return nil, err
		}
		comp.zstd = enc
	}
	return comp, nil
}

// Codec returns the codec the Compressor writes; it goes into the low bits
// of the batch attributes.
func (c *Compressor) Codec() Codec {
	if c == nil {
		return None
	}
	return c.codec
}

// Level returns the level the Compressor was made with (DefaultLevel when
// none was chosen).
func (c *Compressor) Level() int {
	if c == nil || (c.codec == None && c.level == 0) {
		return DefaultLevel
	}
	return c.level
}

// Compress appends the compressed form of src to dst and returns the
// extended slice. With codec None it appends src unchanged. On error dst is
// returned as it was given.
func (c *Compressor) Compress(dst, src []byte) ([]byte, error) {
	switch c.Codec() {
	case Gzip:
		return c.gzip.compress(dst, src)
	case Snappy:
		return snappyCompress(dst, src), nil
	case LZ4:
		return c.lz4.compress(dst, src)
	case Zstd:
		return c.zstd.EncodeAll(src, dst), nil
	default:
		return append(dst, src...), nil
	}
}

// Decompress appends the decompressed form of src, written by codec c, to dst
// and returns the extended slice. Snappy input may be xerial framed (what the
// Java producer writes), a raw snappy block, or the snappy framing format.
// Input that cannot be decoded, or that would grow dst by more than
// MaxDecompressedSize bytes, is an error wrapping ErrCorrupt; an unknown codec
// is an error wrapping ErrUnknownCodec. On error dst is returned as given.
func Decompress(c Codec, dst, src []byte) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch c {
	case None:
		if len(src) > MaxDecompressedSize {
			return dst, corrupt(c, errTooLarge)
		}
		return append(dst, src...), nil
	case Gzip:
		out, err = gzipDecompress(dst, src)
	case Snappy:
		out, err = snappyDecompress(dst, src)
	case LZ4:
		out, err = lz4Decompress(dst, src)
	case Zstd:
		out, err = zstdDecompress(dst, src)
	default:
		return dst, fmt.Errorf("%w: %d", ErrUnknownCodec, int(c))
	}
	if err != nil {
		return dst, corrupt(c, err)
	}
	return out, nil
}
