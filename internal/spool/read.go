package spool

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Read returns pending entry id, read back from its segment file with its
// CRC checked, in new slices. An id not pending fails with ErrNotPending, a
// frame that fails its check with ErrCorrupt.
func (s *Spool) Read(id uint64) (Entry, error) { return s.ReadInto(id, nil) }

// ReadInto is Read into buf's array when its capacity holds the entry's
// metadata and data together (Meta and Data then share it); otherwise it
// allocates.
//
// The disk read runs without s.mu, so Appends and Dones go on meanwhile:
// the segment's read file is counted as in use (segment.readers) and is
// closed by the last Read using it once the segment is deleted or the spool
// closed, never under a Read. A Read that started while its entry was
// pending returns it even if a Done comes meanwhile. Read works on a broken
// spool too: the CRC vouches for the frame.
func (s *Spool) ReadInto(id uint64, buf []byte) (Entry, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Entry{}, ErrClosed
	}
	seg, j := s.find(id)
	if seg == nil || seg.done[j] {
		s.mu.Unlock()
		return Entry{}, fmt.Errorf("%w: %d", ErrNotPending, id)
	}
	if seg.rf == nil {
		f, err := os.Open(seg.path)
		if err != nil {
			s.mu.Unlock()
			return Entry{}, fmt.Errorf("spool: open segment to read: %w", err)
		}
		seg.rf = f
	}
	seg.readers++
	f, off, end := seg.rf, seg.offs[j], seg.size
	hook := s.readHook
	s.mu.Unlock()
	if hook != nil {
		hook(id)
	}

	e, err := readEntry(f, id, off, end, buf)

	s.mu.Lock()
	seg.readers--
	seg.release()
	s.mu.Unlock()
	switch {
	case err == nil:
		return e, nil
	case errors.Is(err, errBadHeader), errors.Is(err, errBadCRC), errors.Is(err, errTruncated):
		return Entry{}, fmt.Errorf("%w: entry %d in %s at offset %d: %w", ErrCorrupt, id, segName(seg.num), off, err)
	default:
		return Entry{}, fmt.Errorf("spool: read entry %d in %s: %w", id, segName(seg.num), err)
	}
}

// readEntry reads the frame of entry id at off in f, whose whole frames end
// at end, and checks that it is that entry's and passes its CRC. The
// payload goes into buf if it fits. A frame found wrong fails with
// errBadHeader, errTruncated or errBadCRC.
func readEntry(f *os.File, id uint64, off, end int64, buf []byte) (Entry, error) {
	var hb [headerLen]byte
	if err := readAt(f, hb[:], off); err != nil {
		return Entry{}, err
	}
	h, err := parseHeader(hb[:])
	switch {
	case err != nil:
		return Entry{}, err
	case h.kind != kindEntry || h.id != id:
		return Entry{}, fmt.Errorf("%w: kind %d, id %d", errBadHeader, h.kind, h.id)
	case off+headerLen+h.payloadLen() > end:
		return Entry{}, fmt.Errorf("%w: %d bytes of payload past the last frame's end", errTruncated, h.payloadLen())
	}
	n := int(h.payloadLen())
	p := buf[:0]
	if cap(p) < n {
		p = make([]byte, n)
	}
	p = p[:n]
	if err := readAt(f, p, off+headerLen); err != nil {
		return Entry{}, err
	}
	if crc32.Update(headerCRC(hb[:]), castagnoli, p) != h.crc {
		return Entry{}, errBadCRC
	}
	return Entry{ID: id, Meta: p[:h.metaLen:h.metaLen], Data: p[h.metaLen:], DataLen: int(h.dataLen)}, nil
}

// readAt fills b from f at off; a file shorter than that (cut under the
// spool) is errTruncated.
func readAt(f *os.File, b []byte, off int64) error {
	_, err := f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the file ends inside the frame", errTruncated)
	}
	return err
}
