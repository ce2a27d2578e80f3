package spool

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Report says what Open found and what recovery did to the files.
type Report struct {
	Segments int // segment files read
	Entries  int // entries returned for replay

	// DoneFrames is the done frames read; Done is the entries they named
	// that were found, and so not returned.
	DoneFrames int
	Done       int

	// TornFrames and TornBytes are what was cut off the end of the last
	// segment: a frame cut short or failing its CRC (as a crash in the
	// middle of a write leaves it) with nothing valid after it. Frames are
	// counted by walking the cut bytes' headers while they look possible.
	TornFrames int
	TornBytes  int64

	// Quarantined lists the segments renamed to *.seg.quarantined.
	Quarantined []Quarantine
}

// Quarantine is one segment set aside because of corruption.
type Quarantine struct {
	File   string // the renamed file: the whole segment as it was found
	Offset int64  // where the first bad frame starts; the frames before it were returned
	Bytes  int64  // bytes from Offset to the end, not replayed
	Err    error  // why; matches ErrCorrupt
}

// scan is what reading one segment found.
type scan struct {
	entries    []Entry
	offs       []int64  // offs[i]: where entries[i]'s frame starts
	done       []uint64 // the ids its done frames name, in file order
	doneFrames int
	good       int64 // end of the last good frame
	size       int64 // the file's size
	lastID     uint64
	problem    error // why reading stopped before size; nil if it did not
	// validAfter: a frame that passes its CRC starts somewhere after good
	// (looked for only in the last segment, where it decides torn or not).
	validAfter bool
	tornFrames int // frames in the bytes after good, if cut
}

// torn reports whether s ends like an interrupted write: a frame cut short,
// garbage or a CRC failure, and nothing valid after it.
func (s *scan) torn() bool {
	return s.problem != nil && !errors.Is(s.problem, errIDOrder) && !s.validAfter
}

// scanSegment reads the frames of the segment at path whose entries' ids
// must be above prevID. Allocation is bounded by the file's size: a frame's payload
// is read only once the header and the file's size allow it.
func scanSegment(path string, last bool, prevID uint64, metaOnly bool) (*scan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: open segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool: open segment: %w", err)
	}
	s := &scan{size: fi.Size(), lastID: prevID}
	r := bufio.NewReaderSize(f, 64<<10)
	var hb [headerLen]byte
	var scratch []byte
	for s.good < s.size {
		if s.size-s.good < headerLen {
			s.problem = fmt.Errorf("%w: %d bytes of header", errTruncated, s.size-s.good)
			break
		}
		if _, err := io.ReadFull(r, hb[:]); err != nil {
			return nil, fmt.Errorf("spool: read segment: %w", err)
		}
		h, err := parseHeader(hb[:])
		if err != nil {
			s.problem = err
			break
		}
		if s.good+headerLen+h.payloadLen() > s.size {
			s.problem = fmt.Errorf("%w: %d bytes of payload, %d in the file", errTruncated, h.payloadLen(), s.size-s.good-headerLen)
			break
		}
		var payload []byte
		if metaOnly && h.kind != kindDone {
			// One scratch buffer for every frame: only the metadata is kept.
			scratch = slices.Grow(scratch[:0], int(h.payloadLen()))
			payload = scratch[:h.payloadLen()]
		} else {
			payload = make([]byte, h.payloadLen())
		}
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, fmt.Errorf("spool: read segment: %w", err)
		}
		if crc32.Update(headerCRC(hb[:]), castagnoli, payload) != h.crc {
			s.problem = errBadCRC
			break
		}
		if h.kind == kindDone {
			s.done = doneIDs(s.done, payload)
			s.doneFrames++
			s.good += headerLen + h.payloadLen()
			continue
		}
		if h.id <= s.lastID {
			s.problem = fmt.Errorf("%w: %d after %d", errIDOrder, h.id, s.lastID)
			break
		}
		s.offs = append(s.offs, s.good)
		e := Entry{ID: h.id, Meta: payload[:h.metaLen:h.metaLen], Data: payload[h.metaLen:], DataLen: int(h.dataLen)}
		if metaOnly {
			e.Meta, e.Data = slices.Clone(e.Meta), nil
		}
		s.entries = append(s.entries, e)
		s.lastID = h.id
		s.good += headerLen + h.payloadLen()
	}
	if s.problem != nil && last {
		if s.validAfter, err = validFrameAfter(f, s.good+1, s.size); err != nil {
			return nil, err
		}
		if s.tornFrames, err = countFrames(f, s.good, s.size); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// frameAt reports whether a whole frame passing its CRC starts at off.
func frameAt(f *os.File, off, size int64, buf []byte) (bool, error) {
	var hb [headerLen]byte
	if size-off < headerLen {
		return false, nil
	}
	if _, err := f.ReadAt(hb[:], off); err != nil {
		return false, fmt.Errorf("spool: read segment: %w", err)
	}
	h, err := parseHeader(hb[:])
	if err != nil || off+headerLen+h.payloadLen() > size {
		return false, nil
	}
	crc := headerCRC(hb[:])
	for pos, end := off+headerLen, off+headerLen+h.payloadLen(); pos < end; {
		n := min(int64(len(buf)), end-pos)
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return false, fmt.Errorf("spool: read segment: %w", err)
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		pos += n
	}
	return crc == h.crc, nil
}

// validFrameAfter looks for a valid frame starting anywhere in [from, size):
// at every place the magic appears, a frame is checked whole.
func validFrameAfter(f *os.File, from, size int64) (bool, error) {
	const chunk = 64 << 10
	var magic [4]byte
	binary.BigEndian.PutUint32(magic[:], frameMagic)
	buf := make([]byte, chunk+len(magic)-1)
	crcBuf := make([]byte, chunk)
	for pos := from; pos+headerLen <= size; pos += chunk {
		n := min(int64(len(buf)), size-pos)
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return false, fmt.Errorf("spool: read segment: %w", err)
		}
		for i := 0; ; {
			j := bytes.Index(buf[i:n], magic[:])
			if j < 0 || i+j >= chunk {
				break
			}
			ok, err := frameAt(f, pos+int64(i+j), size, crcBuf)
			if ok || err != nil {
				return ok, err
			}
			i += j + 1
		}
	}
	return false, nil
}

// countFrames counts the frames that start in [off, size), following
// headers while they look possible; what follows the last one counts as one.
func countFrames(f *os.File, off, size int64) (int, error) {
	n := 0
	var hb [headerLen]byte
	for off < size {
		n++
		if size-off < headerLen {
			break
		}
		if _, err := f.ReadAt(hb[:], off); err != nil {
			return 0, fmt.Errorf("spool: read segment: %w", err)
		}
		h, err := parseHeader(hb[:])
		if err != nil {
			break
		}
		off += headerLen + h.payloadLen()
	}
	return n, nil
}

// quarantine renames the segment at path to *.seg.quarantined and puts its
// first good bytes back under the old name, through a synced .tmp file so
// that a crash at any step leaves either the old state (recovery runs again)
// or a .tmp that fixTmps completes.
func quarantine(dir, path string, good int64) (string, error) {
	qpath := path[:len(path)-len(segSuffix)] + quarantinedSuffix
	tmp := path[:len(path)-len(segSuffix)] + tmpSuffix
	if good > 0 {
		if err := copyPrefix(path, tmp, good); err != nil {
			return "", err
		}
		if err := syncDir(dir); err != nil {
			return "", err
		}
	}
	if err := os.Rename(path, qpath); err != nil {
		return "", fmt.Errorf("spool: quarantine: %w", err)
	}
	if good > 0 {
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("spool: quarantine: %w", err)
		}
	}
	return qpath, syncDir(dir)
}

// copyPrefix writes the first n bytes of src to a new file dst and syncs it.
func copyPrefix(src, dst string, n int64) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("spool: quarantine: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: quarantine: %w", err)
	}
	_, err = io.CopyN(out, in, n)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("spool: quarantine: %w", err)
	}
	return nil
}

// fixTmps finishes or forgets the .tmp files a crash during quarantine left:
// a .tmp beside its segment was not yet in use (the segment is still whole
// and is judged again); a .tmp alone is the complete, synced prefix whose
// segment was already renamed, so it takes the segment's name.
func fixTmps(dir string, tmps []uint64) error {
	for _, num := range tmps {
		seg := filepath.Join(dir, segName(num))
		tmp := seg[:len(seg)-len(segSuffix)] + tmpSuffix
		var err error
		if _, serr := os.Lstat(seg); serr == nil {
			err = os.Remove(tmp)
		} else {
			err = os.Rename(tmp, seg)
		}
		if err != nil {
			return fmt.Errorf("spool: recover: %w", err)
		}
	}
	if len(tmps) > 0 {
		return syncDir(dir)
	}
	return nil
}
