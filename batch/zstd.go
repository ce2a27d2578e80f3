package batch

import (
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
		)
	})
	return e.enc, e.err
}

var zstdDecoder struct {
	once sync.Once
	dec  *zstd.Decoder
	err  error
}

// zstdDecompress appends the data of the zstd frames in src to dst.
func zstdDecompress(dst, src []byte) ([]byte, error) {
	if len(src) == 0 {
		return dst, errEmpty
	}
	zstdDecoder.once.Do(func() {
		zstdDecoder.dec, zstdDecoder.err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxDecompressedSize),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
		)
	})
	if zstdDecoder.err != nil {
		return dst, zstdDecoder.err
	}
	out, err := zstdDecoder.dec.DecodeAll(src, dst)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return dst, errTooLarge
	}
	if err != nil {
		return dst, err
	}
	return out, nil
}
