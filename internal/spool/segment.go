package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// File name suffixes in a spool directory (see doc.go).
const (
	segSuffix         = ".seg"
	tmpSuffix         = ".seg.tmp"
	quarantinedSuffix = ".seg.quarantined"
	lockName          = "LOCK"
)

// segment is one segment file not yet deleted. Owned by Spool.mu.
type segment struct {
	num  uint64 // the number in its name: the first id it was made for
	path string
	size int64    // bytes of whole frames in it, done frames included
	ids  []uint64 // its entries' ids, increasing
	offs []int64  // offs[i]: where the frame of ids[i] starts in the file
	done []bool   // done[i]: ids[i] was acknowledged
	left int      // entries not done
	// upTo is the highest id in this segment or any before it, so that a
	// binary search over segments works past segments without entries.
	upTo uint64
	f    *os.File // open for writing; the current segment only

	// rf is open for reading, from the first Read of one of its entries
	// until the segment is deleted or the spool closed. readers counts
	// the Reads using rf outside Spool.mu; once gone is set, the last of
	// them closes it.
	rf      *os.File
	readers int
	gone    bool
}

// release closes rf if the segment is gone and no Read uses it.
func (seg *segment) release() {
	if seg.gone && seg.readers == 0 && seg.rf != nil {
		seg.rf.Close() // read-only: nothing to lose
		seg.rf = nil
	}
}

// segName is the file name of segment num: 20 digits sort like the numbers.
func segName(num uint64) string { return fmt.Sprintf("%020d%s", num, segSuffix) }

// parseNum reads the number in a file name that ends in suffix; ok is false
// for any other name.
func parseNum(name, suffix string) (num uint64, ok bool) {
	digits, found := strings.CutSuffix(name, suffix)
	if !found || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil && n <= maxID
}

// listing is what a spool directory holds, by kind of file.
type listing struct {
	segs    []uint64 // segment numbers, increasing
	tmps    []uint64 // rewrites of quarantined segments' prefixes
	maxName uint64   // the highest number in any name, quarantined ones too
}

// list reads dir; files it does not know are left alone.
func list(dir string) (listing, error) {
	var l listing
	des, err := os.ReadDir(dir)
	if err != nil {
		return l, err
	}
	for _, de := range des {
		name := de.Name()
		if n, ok := parseNum(name, segSuffix); ok && de.Type().IsRegular() {
			l.segs = append(l.segs, n)
			l.maxName = max(l.maxName, n)
		} else if n, ok := parseNum(name, tmpSuffix); ok {
			l.tmps = append(l.tmps, n)
		} else if n, ok := parseNum(name, quarantinedSuffix); ok {
			l.maxName = max(l.maxName, n)
		}
	}
	sort.Slice(l.segs, func(i, j int) bool { return l.segs[i] < l.segs[j] })
	return l, nil
}

// createSegment creates the empty file of segment num and syncs dir so the
// new name survives a crash.
func createSegment(dir string, num uint64) (*segment, error) {
	path := filepath.Join(dir, segName(num))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: create segment: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return &segment{num: num, path: path, f: f}, nil
}

// removeFile removes path (already gone is fine) and syncs dir.
func removeFile(dir, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: remove segment: %w", err)
	}
	return syncDir(dir)
}

// syncDir fsyncs the directory itself, making created, renamed and removed
// names durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	return nil
}

// syncFile fsyncs the file at path.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("spool: sync segment: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool: sync segment: %w", err)
	}
	return nil
}

// lockDir takes the exclusive flock on dir's LOCK file. flock belongs to the
// open file, not the process, so a second Open in the same process fails
// too. The lock goes when the returned file is closed (or the process dies).
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("spool: lock: %w", err)
	}
	return f, nil
}
