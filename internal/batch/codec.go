package batch

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Codec is a record batch compression codec, numbered as in the low three
// bits of the batch attributes.
type Codec int8

// The codecs Kafka defines.
const (
	None   Codec = 0 // no compression
	Gzip   Codec = 1 // gzip (deflate in a gzip member)
	Snappy Codec = 2 // snappy, in xerial framing
	LZ4    Codec = 3 // an LZ4 frame
	Zstd   Codec = 4 // a zstd frame; needs Produce v7+ on the broker
)

// DefaultLevel asks for a codec's default compression level, the one the Java
// producer uses when compression.<codec>.level is not set.
const DefaultLevel = math.MinInt32

// Level ranges of the Java producer's compression.<codec>.level settings.
const (
	GzipMinLevel     = 1       // fastest gzip level
	GzipMaxLevel     = 9       // smallest gzip output
	GzipDefaultLevel = -1      // the deflate library's own default
	LZ4MinLevel      = 1       // lowest lz4 high-compression level
	LZ4MaxLevel      = 17      // highest lz4 high-compression level
	LZ4DefaultLevel  = 9       // the default: lz4's fast compressor
	ZstdMinLevel     = -131072 // fastest zstd level
	ZstdMaxLevel     = 22      // smallest zstd output
	ZstdDefaultLevel = 3       // zstd's own default
)

var codecNames = [...]string{None: "none", Gzip: "gzip", Snappy: "snappy", LZ4: "lz4", Zstd: "zstd"}

// ParseCodec returns the codec of a compression.type name: "none", "gzip",
// "snappy", "lz4" or "zstd", in any case. Any other name is an error wrapping
// ErrUnknownCodec.
func ParseCodec(name string) (Codec, error) {
	for c, n := range codecNames {
		if strings.EqualFold(name, n) {
			return Codec(c), nil
		}
	}
	return None, fmt.Errorf("%w: %q (want none, gzip, snappy, lz4 or zstd)", ErrUnknownCodec, name)
}

// String returns the codec's compression.type name, or "codec(N)" for a
// number Kafka does not define.
func (c Codec) String() string {
	if c.valid() {
		return codecNames[c]
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

func (c Codec) valid() bool { return c >= None && c <= Zstd }

// CheckLevel reports whether level is a valid compression level for c, with
// the ranges of the Java producer: gzip 1..9 or -1, lz4 1..17, zstd
// -131072..22. DefaultLevel is valid for every codec; none and snappy take no
// other level. The error wraps ErrInvalidLevel (ErrUnknownCodec for an unknown
// codec) and names the codec and its range.
func (c Codec) CheckLevel(level int) error {
	if !c.valid() {
		return fmt.Errorf("%w: %d", ErrUnknownCodec, int(c))
	}
	if level == DefaultLevel {
		return nil
	}
	switch c {
	case Gzip:
		if level == GzipDefaultLevel || (level >= GzipMinLevel && level <= GzipMaxLevel) {
			return nil
		}
		return fmt.Errorf("%w: gzip accepts %d..%d or %d, got %d", ErrInvalidLevel, GzipMinLevel, GzipMaxLevel, GzipDefaultLevel, level)
	case LZ4:
		if level >= LZ4MinLevel && level <= LZ4MaxLevel {
			return nil
		}
		return fmt.Errorf("%w: lz4 accepts %d..%d, got %d", ErrInvalidLevel, LZ4MinLevel, LZ4MaxLevel, level)
	case Zstd:
		if level >= ZstdMinLevel && level <= ZstdMaxLevel {
			return nil
		}
		return fmt.Errorf("%w: zstd accepts %d..%d, got %d", ErrInvalidLevel, ZstdMinLevel, ZstdMaxLevel, level)
	default:
		return fmt.Errorf("%w: %s takes no level, got %d", ErrInvalidLevel, c, level)
	}
}
