package batch

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// Reasons wrapped into ErrCorrupt.
var (
	errTooLarge  = fmt.Errorf("output exceeds %d bytes", MaxDecompressedSize)
	errEmpty     = errors.New("empty input")
	errTruncated = errors.New("truncated input")
)

// corrupt wraps a decoding failure of codec c into ErrCorrupt, keeping the
// cause reachable for errors.Is.
func corrupt(c Codec, cause error) error {
	if errors.Is(cause, ErrCorrupt) {
		return cause
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, c, cause)
}

// readBounded appends everything r yields to dst, failing with errTooLarge
// once more than MaxDecompressedSize bytes have been read.
func readBounded(r io.Reader, dst []byte) ([]byte, error) {
	start := len(dst)
	limit := start + MaxDecompressedSize + 1 // one byte past the limit detects overflow
	for zeroReads := 0; ; {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, max(4096, len(dst)-start))
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), limit)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > MaxDecompressedSize {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		if n > 0 {
			zeroReads = 0
		} else if zeroReads++; zeroReads > 100 {
			return dst, io.ErrNoProgress
		}
	}
}
