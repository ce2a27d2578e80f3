package batch

import (
	"bytes"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// gzipEncoder is a pooled gzip writer together with the sink it writes to.
type gzipEncoder struct {
	w   *gzip.Writer
	out appendWriter
}

// gzipPool holds the idle encoders of one gzip level.
type gzipPool struct {
	level    int
	encoders sync.Pool
}

// gzipPools has one pool per gzip level: index 0 is level -1 (the library
// default), index n is level n.
var gzipPools [GzipMaxLevel + 1]gzipPool

func init() {
	for i := range gzipPools {
		gzipPools[i].level = i
	}
	gzipPools[0].level = GzipDefaultLevel
}

// gzipPoolFor returns the pool of a level that Gzip.CheckLevel accepts.
func gzipPoolFor(level int) *gzipPool {
	if level < GzipMinLevel || level > GzipMaxLevel {
		return &gzipPools[0]
	}
	return &gzipPools[level]
}

// compress appends a gzip member holding src to dst.
func (p *gzipPool) compress(dst, src []byte) ([]byte, error) {
	e, _ := p.encoders.Get().(*gzipEncoder)
	if e == nil {
		w, err := gzip.NewWriterLevel(nil, p.level)
		if err != nil {
			return dst, err
		}
		e = &gzipEncoder{w: w}
	}
	out, err := streamCompress(e.w, &e.out, dst, src)
	p.encoders.Put(e)
	return out, err
}

// gzipDecoder is a pooled gzip reader together with its source.
type gzipDecoder struct {
	r   gzip.Reader
	src bytes.Reader
}

var gzipDecoders sync.Pool

// gzipDecompress appends the data of the gzip members in src to dst.
func gzipDecompress(dst, src []byte) ([]byte, error) {
	if len(src) == 0 {
		return dst, errEmpty
	}
	d, _ := gzipDecoders.Get().(*gzipDecoder)
	if d == nil {
		d = new(gzipDecoder)
	}
	defer func() {
		d.src.Reset(nil)
		gzipDecoders.Put(d)
	}()
	d.src.Reset(src)
	if err := d.r.Reset(&d.src); err != nil {
		return dst, err
	}
	return readBounded(&d.r, dst)
}
