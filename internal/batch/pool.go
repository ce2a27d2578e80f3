package batch

import (
	"io"
	"sync"
)

// appendWriter is an io.Writer that appends to a slice; stream encoders
// write through it straight into the caller's destination.
type appendWriter struct{ b []byte }

// Write appends p; it never fails.
func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// scratchPool holds buffers for compressing a batch at Finish and for
// decompressing one in EachRecord. Buffers keep the capacity they grew to.
var scratchPool sync.Pool

// maxPooledScratch is the largest scratch buffer kept for reuse; a rare huge
// batch should not pin its memory forever.
const maxPooledScratch = 16 << 20

func getScratch() *[]byte {
	if p, _ := scratchPool.Get().(*[]byte); p != nil {
		return p
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func putScratch(p *[]byte) {
	if cap(*p) > maxPooledScratch {
		return
	}
	*p = (*p)[:0]
	scratchPool.Put(p)
}

// streamEncoder is a reusable stream compressor (gzip, lz4 frames).
type streamEncoder interface {
	Reset(w io.Writer)
	Write(p []byte) (int, error)
	Close() error
}

// streamCompress compresses src with w, appending through out to dst; out
// holds no reference to dst afterwards, so both can go back to their pool.
func streamCompress(w streamEncoder, out *appendWriter, dst, src []byte) ([]byte, error) {
	out.b = dst
	w.Reset(out)
	_, err := w.Write(src)
	if err == nil {
		err = w.Close()
	}
	res := out.b
	out.b = nil
	if err != nil {
		return dst, err
	}
	return res, nil
}
