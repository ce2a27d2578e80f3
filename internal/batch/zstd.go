package batch

import (
	"bytes"
	"errors"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdMaxWindow is the largest window a frame may ask the decoder for; it is
// the largest the zstd library used by the Java client accepts by default.
const zstdMaxWindow = 1 << 27

// zstdEncoders holds one shared encoder per library speed, built on first
// use. Java levels map to speeds with zstd.EncoderLevelFromZstd.
var zstdEncoders [zstd.SpeedBestCompression + 1]struct {
	once sync.Once
	enc  *zstd.Encoder
	err  error
}

// zstdEncoderWindow is the encoders' window: the history a match may reach back.
const zstdEncoderWindow = 256 << 10

// zstdEncoder returns the shared encoder for a level that Zstd.CheckLevel
// accepts. Its EncodeAll is safe for concurrent use and reuses its state.
func zstdEncoder(level int) (*zstd.Encoder, error) {
	if level == DefaultLevel {
		level = ZstdDefaultLevel
	}
	speed := zstd.EncoderLevelFromZstd(level)
	e := &zstdEncoders[speed]
	e.once.Do(func() {
		e.enc, e.err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(speed),
			zstd.WithZeroFrames(true),
			// Batches are small: a small window keeps each pooled encoder's
			// state (and the producer's resident memory) small, at no
			// measurable cost in ratio for batch-sized inputs.
			zstd.WithWindowSize(zstdEncoderWindow),
			zstd.WithLowerEncoderMem(true),
		)
	})
	return e.enc, e.err
}

// zstdDecoder is a pooled stream decoder together with its source. Stream
// decoding grows the output geometrically, so many small frames cost linear
// time; the library's DecodeAll regrows its output exactly for each frame,
// which hostile input with thousands of frames turns quadratic.
type zstdDecoder struct {
	d   *zstd.Decoder
	src bytes.Reader
}

var zstdDecoders sync.Pool

// zstdDecompress appends the data of the zstd frames in src to dst.
func zstdDecompress(dst, src []byte) ([]byte, error) {
	if len(src) == 0 {
		return dst, errEmpty
	}
	z, _ := zstdDecoders.Get().(*zstdDecoder)
	if z == nil {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1), // decode on the calling goroutine
			zstd.WithDecoderMaxMemory(MaxDecompressedSize),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
		)
		if err != nil {
			return dst, err
		}
		z = &zstdDecoder{d: d}
	}
	defer func() {
		z.src.Reset(nil)
		if z.d.Reset(nil) == nil {
			zstdDecoders.Put(z)
		}
	}()
	z.src.Reset(src)
	if err := z.d.Reset(&z.src); err != nil {
		return dst, err
	}
	out, err := readBounded(z.d, dst)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		err = errTooLarge
	}
	return out, err
}
