package wire

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A request frame is: int32 size, int16 key, int16 version, int32
// correlation id, nullable-string client id, [tagged fields when flexible],
// body. The correlation id sits at a fixed offset, so a frame can be built
// before the write lock is taken and stamped under it.
const corrOffset = 8

// maxPooledFrame bounds the buffers kept for reuse, so that one unusually
// large request does not pin its memory forever.
const maxPooledFrame = 4 << 20

var framePool = sync.Pool{New: func() any {
	b := make([]byte, 0, 16<<10)
	return &b
}}

func getFrame() *[]byte { return framePool.Get().(*[]byte) }

func putFrame(b *[]byte) {
	if cap(*b) > maxPooledFrame {
		return
	}
	*b = (*b)[:0]
	framePool.Put(b)
}

// appendFrame appends req, framed with size prefix and header, to dst.
func appendFrame(f *kmsg.RequestFormatter, dst []byte, req kmsg.Request, corr int32) []byte {
	return f.AppendRequest(dst, req, corr)
}

// stampCorrelation writes corr into a frame built by appendFrame.
func stampCorrelation(frame []byte, corr int32) {
	binary.BigEndian.PutUint32(frame[corrOffset:], uint32(corr))
}

// frameReader reads size-prefixed response frames. Parsed responses may keep
// references into their frame (kmsg aliases unknown tagged fields), so a
// frame's memory is never reused; small frames are carved from a shared
// slab instead, one allocation serving many responses. The zero value is
// ready; it belongs to one goroutine at a time.
type frameReader struct {
	size [4]byte
	slab []byte // the unused rest of the current slab
}

// Frames up to maxSlabFrame bytes come from slabs of frameSlab bytes.
const (
	frameSlab    = 16 << 10
	maxSlabFrame = 1 << 10
)

// next reads one frame (without its size prefix) from r.
func (fr *frameReader) next(r io.Reader, maxSize int32) ([]byte, error) {
	if _, err := io.ReadFull(r, fr.size[:]); err != nil {
		return nil, err
	}
	size, err := checkFrameSize(fr.size, maxSize)
	if err != nil {
		return nil, err
	}
	var frame []byte
	if size <= maxSlabFrame {
		if len(fr.slab) < int(size) {
			fr.slab = make([]byte, frameSlab)
		}
		frame, fr.slab = fr.slab[:size:size], fr.slab[size:]
	} else {
		frame = make([]byte, size)
	}
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// checkFrameSize validates a response size prefix. A response holds at
// least its correlation id. Prefixes that are not sizes at all get a hint
// about what the peer probably is.
func checkFrameSize(prefix [4]byte, maxSize int32) (int32, error) {
	size := int32(binary.BigEndian.Uint32(prefix[:]))
	switch {
	case prefix[0] == 0x15 && prefix[1] == 0x03:
		return 0, fmt.Errorf("%w: received a TLS alert; the broker expects TLS", ErrMalformedResponse)
	case string(prefix[:]) == "HTTP":
		return 0, fmt.Errorf("%w: received an HTTP response; the address is not a Kafka listener", ErrMalformedResponse)
	case size < 4:
		return 0, fmt.Errorf("%w: response size %d below the 4 byte minimum", ErrMalformedResponse, size)
	case size > maxSize:
		return 0, fmt.Errorf("%w: response size %d above the %d byte limit", ErrMalformedResponse, size, maxSize)
	}
	return size, nil
}

// frameCorrelation returns the correlation id at the start of a response
// frame; frameReader.next guarantees the frame holds one.
func frameCorrelation(frame []byte) int32 {
	return int32(binary.BigEndian.Uint32(frame))
}

// parseResponse decodes a response frame (correlation id first) into into,
// or a new response for req when into is nil; req's version is already set.
// Flexible responses carry a tagged-fields section after the correlation
// id, except ApiVersions, whose header is always version 0 so that any
// client can read it.
func parseResponse(req kmsg.Request, into kmsg.Response, frame []byte) (kmsg.Response, error) {
	body, err := responseBody(req.Key(), req.IsFlexible(), frame)
	if err != nil {
		return nil, err
	}
	resp := into
	if resp == nil {
		resp = req.ResponseKind()
	}
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %w", ErrMalformedResponse, kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}

// SkipTags reads past a tagged-field section (a count, then key, length
// and bytes of each field); a truncated one leaves r failed.
func SkipTags(r *kbin.Reader) {
	for n := r.Uvarint(); n > 0 && r.Ok(); n-- {
		r.Uvarint() // tag key
		r.Span(int(r.Uvarint()))
	}
}

// responseBody strips the response header from a frame.
func responseBody(key int16, flexible bool, frame []byte) ([]byte, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("%w: frame of %d bytes has no correlation id", ErrMalformedResponse, len(frame))
	}
	body := frame[4:]
	if !flexible || key == kmsg.ApiVersions.Int16() {
		return body, nil
	}
	r := kbin.Reader{Src: body}
	SkipTags(&r)
	if !r.Ok() {
		return nil, fmt.Errorf("%w: truncated tagged fields in %s response header", ErrMalformedResponse, kmsg.NameForKey(key))
	}
	return r.Src, nil
}
