package batch

import (
	"bytes"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// lz4Levels maps the Java producer's lz4 levels to the library's. Level 9,
// the default, uses the fast compressor, as the Java producer does; every
// other level uses the high-compression mode, whose search depth rises with
// the level (the library has nine depths for the other sixteen levels).
var lz4Levels = [LZ4MaxLevel + 1]lz4.CompressionLevel{
	1: lz4.Level1, 2: lz4.Level1,
	3: lz4.Level2, 4: lz4.Level2,
	5: lz4.Level3, 6: lz4.Level3,
	7: lz4.Level4, 8: lz4.Level4,
	9:  lz4.Fast,
	10: lz4.Level5, 11: lz4.Level5,
	12: lz4.Level6, 13: lz4.Level6,
	14: lz4.Level7, 15: lz4.Level7,
	16: lz4.Level8, 17: lz4.Level9,
}

// lz4BlockSize is the frame's block size, the one the Java producer writes.
const lz4BlockSize = lz4.Block64Kb

// lz4Encoder is a pooled frame writer together with the sink it writes to.
type lz4Encoder struct {
	w   *lz4.Writer
	out appendWriter
}

// lz4Pool holds the idle writers of one lz4 level of the Java producer.
type lz4Pool struct {
	level    lz4.CompressionLevel
	encoders sync.Pool
}

var lz4Pools [LZ4MaxLevel + 1]lz4Pool

func init() {
	for i := range lz4Pools {
		lz4Pools[i].level = lz4Levels[i]
	}
}

// lz4PoolFor returns the pool of a level that LZ4.CheckLevel accepts.
func lz4PoolFor(level int) *lz4Pool {
	if level < LZ4MinLevel || level > LZ4MaxLevel {
		level = LZ4DefaultLevel
	}
	return &lz4Pools[level]
}

// compress appends one LZ4 frame holding src to dst: 64 KiB independent
// blocks, no block or content checksums, as the Java producer writes.
func (p *lz4Pool) compress(dst, src []byte) ([]byte, error) {
	e, _ := p.encoders.Get().(*lz4Encoder)
	if e == nil {
		w := lz4.NewWriter(nil)
		err := w.Apply(
			lz4.BlockSizeOption(lz4BlockSize),
			lz4.BlockChecksumOption(false),
			lz4.ChecksumOption(false),
			lz4.ConcurrencyOption(1),
			lz4.CompressionLevelOption(p.level),
		)
		if err != nil {
			return dst, err
		}
		e = &lz4Encoder{w: w}
	}
	out, err := streamCompress(e.w, &e.out, dst, src)
	p.encoders.Put(e)
	return out, err
}

// lz4Decoder is a pooled frame reader together with its source.
type lz4Decoder struct {
	r   *lz4.Reader
	src bytes.Reader
}

var lz4Decoders sync.Pool

// lz4Decompress appends the data of the LZ4 frames in src to dst.
func lz4Decompress(dst, src []byte) ([]byte, error) {
	if len(src) == 0 {
		return dst, errEmpty
	}
	d, _ := lz4Decoders.Get().(*lz4Decoder)
	if d == nil {
		d = &lz4Decoder{r: lz4.NewReader(nil)}
	}
	defer func() {
		d.src.Reset(nil)
		d.r.Reset(nil)
		lz4Decoders.Put(d)
	}()
	d.src.Reset(src)
	d.r.Reset(&d.src)
	return readBounded(d.r, dst)
}
