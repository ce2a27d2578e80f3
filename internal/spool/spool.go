package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Entry is one spooled batch.
type Entry struct {
	// ID is the spool's id, increasing in append order across restarts
	// as long as some segment is left; a directory emptied of segments
	// starts again at 1 (ids only name entries for Done).
	ID   uint64
	Meta []byte // the caller's metadata, not interpreted by the spool
	Data []byte // the batch bytes
}

// Spool is an open spool directory. Append, Done, Sync, Durable, Stats and
// Close are safe to call from several goroutines.
type Spool struct {
	dir  string
	opts Options
	lock *os.File // holds the directory's flock until Close

	durable atomic.Uint64 // highest id known fsynced; only grows
	syncMu  sync.Mutex    // one Sync at a time; taken before mu, never inside it
	stop    chan struct{} // closed by Close to end the interval syncer
	syncer  sync.WaitGroup

	// writeAt writes a frame; tests replace it to inject write errors.
	writeAt func(f *os.File, b []byte, off int64) (int, error)

	// mu guards everything below: the segment list and each segment in it
	// (their ids, done flags, sizes and the current segment's file), the
	// id counter, the counts, and closed and broken.
	mu             sync.Mutex
	closed         bool
	broken         error      // set by an i/o failure that leaves the files unknown
	segs           []*segment // not yet deleted, in order; the last is the current one
	nextID         uint64
	pendingBytes   int64
	pendingEntries int64
	appended       uint64
	doneCount      uint64
	report         Report
	buf            []byte // frame being written; reused
}

// Stats is a snapshot of a Spool's counts.
type Stats struct {
	PendingEntries int64  // entries not done
	PendingBytes   int64  // bytes of the segment files not yet deleted
	Segments       int    // segment files not yet deleted, the current one included
	Appended       uint64 // Appends that succeeded since Open
	Done           uint64 // Dones that succeeded since Open
	TornFrames     int    // frames cut off at Open (Report.TornFrames)
	TornBytes      int64  // bytes cut off at Open
	Quarantined    int    // segments quarantined at Open
}

// Open locks dir (creating it if needed), recovers its segments and returns
// the entries still pending, in append order, for replay; then it starts a
// new current segment. A directory another Spool holds fails with ErrLocked.
func Open(dir string, opts Options) (*Spool, []Entry, Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, nil, Report{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, Report{}, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, nil, Report{}, err
	}
	s := &Spool{
		dir:     dir,
		opts:    opts,
		lock:    lock,
		stop:    make(chan struct{}),
		writeAt: (*os.File).WriteAt,
	}
	entries, err := s.recover()
	if err != nil {
		for _, seg := range s.segs {
			if seg.f != nil {
				seg.f.Close()
			}
		}
		lock.Close()
		return nil, nil, s.report, err
	}
	if opts.Sync == SyncInterval {
		s.syncer.Add(1)
		go s.syncEvery()
	}
	return s, entries, s.report, nil
}

// recover reads every segment, cuts a torn tail, quarantines corruption,
// removes empty segments and creates the current segment. Called by Open
// before s is shared.
func (s *Spool) recover() ([]Entry, error) {
	l, err := list(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if len(l.tmps) > 0 {
		if err := fixTmps(s.dir, l.tmps); err != nil {
			return nil, err
		}
		if l, err = list(s.dir); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	var entries []Entry
	var prevID uint64
	for i, num := range l.segs {
		path := filepath.Join(s.dir, segName(num))
		sc, err := scanSegment(path, i == len(l.segs)-1, prevID)
		if err != nil {
			return nil, err
		}
		s.report.Segments++
		switch {
		case sc.problem == nil:
		case i == len(l.segs)-1 && sc.torn():
			if err := os.Truncate(path, sc.good); err != nil {
				return nil, fmt.Errorf("spool: cut torn frame: %w", err)
			}
			if err := syncFile(path); err != nil {
				return nil, err
			}
			s.report.TornFrames += sc.tornFrames
			s.report.TornBytes += sc.size - sc.good
		default:
			why := sc.problem
			if errors.Is(why, errTruncated) {
				why = fmt.Errorf("%w in a segment that is not the last", why)
			}
			qpath, err := quarantine(s.dir, path, sc.good)
			if err != nil {
				return nil, err
			}
			s.report.Quarantined = append(s.report.Quarantined, Quarantine{
				File:   qpath,
				Offset: sc.good,
				Bytes:  sc.size - sc.good,
				Err:    fmt.Errorf("%w: %s at offset %d: %w", ErrCorrupt, segName(num), sc.good, why),
			})
		}
		if len(sc.entries) == 0 {
			if err := removeFile(s.dir, path); err != nil {
				return nil, err
			}
			continue
		}
		seg := &segment{num: num, path: path, size: sc.good, left: len(sc.entries)}
		seg.ids = make([]uint64, len(sc.entries))
		for j, e := range sc.entries {
			seg.ids[j] = e.ID
		}
		seg.done = make([]bool, len(seg.ids))
		s.segs = append(s.segs, seg)
		s.pendingBytes += seg.size
		s.pendingEntries += int64(len(seg.ids))
		entries = append(entries, sc.entries...)
		prevID = sc.lastID
	}
	if len(s.segs) > 0 {
		// Written by an earlier life, perhaps never synced; rolled
		// segments were synced when they were rolled.
		if err := syncFile(s.segs[len(s.segs)-1].path); err != nil {
			return nil, err
		}
	}
	s.durable.Store(prevID)
	s.nextID = max(prevID, l.maxName) + 1
	cur, err := createSegment(s.dir, s.nextID)
	if err != nil {
		return nil, err
	}
	s.segs = append(s.segs, cur)
	s.report.Entries = len(entries)
	return entries, nil
}

// current is the segment Append writes to. Call with mu held.
func (s *Spool) current() *segment { return s.segs[len(s.segs)-1] }

// usable returns the error a call must fail with, if any. Call with mu held.
func (s *Spool) usable() error {
	if s.closed {
		return ErrClosed
	}
	return s.broken
}

// Append writes one entry and returns its id. With SyncAlways the entry is
// durable when Append returns. It fails with ErrFull when the pending bytes
// would pass Options.MaxBytes, and with ErrDiskFull when the file system is
// full; in both cases nothing of the entry stays in the file.
func (s *Spool) Append(meta, data []byte) (uint64, error) {
	payload := int64(len(meta)) + int64(len(data))
	if payload > MaxFrameBytes {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, payload)
	}
	n := headerLen + payload
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return 0, err
	}
	if s.nextID > maxID {
		return 0, fmt.Errorf("%w: ids used up", ErrFull)
	}
	if s.pendingBytes+n > s.opts.MaxBytes {
		return 0, fmt.Errorf("%w: %d pending bytes + %d > %d", ErrFull, s.pendingBytes, n, s.opts.MaxBytes)
	}
	if cur := s.current(); cur.size > 0 && cur.size+n > s.opts.SegmentBytes {
		if err := s.roll(); err != nil {
			return 0, err
		}
	}
	cur := s.current()
	id := s.nextID
	s.buf = appendFrame(s.buf[:0], id, meta, data)
	if _, err := s.writeAt(cur.f, s.buf, cur.size); err != nil {
		if terr := cur.f.Truncate(cur.size); terr != nil {
			s.broken = fmt.Errorf("%w: cutting a partial frame: %w (after %w)", ErrBroken, terr, err)
		}
		if errors.Is(err, syscall.ENOSPC) {
			return 0, fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return 0, fmt.Errorf("spool: write: %w", err)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep one huge entry's buffer
	}
	s.nextID++
	cur.size += n
	cur.ids = append(cur.ids, id)
	cur.done = append(cur.done, false)
	cur.left++
	s.pendingBytes += n
	s.pendingEntries++
	s.appended++
	if s.opts.Sync == SyncAlways {
		if err := cur.f.Sync(); err != nil {
			// The frame is in the file, maybe on disk, maybe not: after a
			// failed fsync nothing is known, so no more appends.
			s.broken = fmt.Errorf("%w: fsync: %w", ErrBroken, err)
			return 0, s.broken
		}
		s.markDurable(id)
	}
	return id, nil
}

// roll syncs and closes the current segment and starts a new one. Call with
// mu held.
func (s *Spool) roll() error {
	old := s.current()
	if err := old.f.Sync(); err != nil {
		s.broken = fmt.Errorf("%w: fsync: %w", ErrBroken, err)
		return s.broken
	}
	s.markDurable(s.nextID - 1)
	next, err := createSegment(s.dir, s.nextID)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return err
	}
	if err := old.f.Close(); err != nil {
		next.f.Close()
		return fmt.Errorf("spool: close segment: %w", err)
	}
	old.f = nil
	s.segs = append(s.segs, next)
	if old.left == 0 {
		return s.drop(len(s.segs) - 2)
	}
	return nil
}

// drop deletes segment i, whose entries are all done. Call with mu held.
// The segment leaves the counts even if its file could not be removed (the
// error says so): its entries would then be replayed after a restart, and
// the broker de-duplicates them.
func (s *Spool) drop(i int) error {
	seg := s.segs[i]
	s.segs = append(s.segs[:i], s.segs[i+1:]...)
	s.pendingBytes -= seg.size
	return removeFile(s.dir, seg.path)
}

// Done records that the broker acknowledged entry id. Once every entry of a
// segment other than the current one is done, its file is deleted. Done is
// kept in memory only: entries of segments not yet deleted are replayed
// after a restart. An id that is not pending fails with ErrNotPending.
func (s *Spool) Done(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	// Only the current segment may have no ids, and it is last.
	i := sort.Search(len(s.segs), func(i int) bool {
		ids := s.segs[i].ids
		return len(ids) == 0 || ids[len(ids)-1] >= id
	})
	if i == len(s.segs) {
		return fmt.Errorf("%w: %d", ErrNotPending, id)
	}
	seg := s.segs[i]
	j := sort.Search(len(seg.ids), func(j int) bool { return seg.ids[j] >= id })
	if j == len(seg.ids) || seg.ids[j] != id || seg.done[j] {
		return fmt.Errorf("%w: %d", ErrNotPending, id)
	}
	seg.done[j] = true
	seg.left--
	s.pendingEntries--
	s.doneCount++
	if seg.left == 0 && seg.f == nil {
		return s.drop(i)
	}
	return nil
}

// Durable is the highest id known to be fsynced: every entry up to it
// survives a crash of the machine.
func (s *Spool) Durable() uint64 { return s.durable.Load() }

// markDurable raises Durable to id.
func (s *Spool) markDurable(id uint64) {
	for {
		cur := s.durable.Load()
		if id <= cur || s.durable.CompareAndSwap(cur, id) {
			return
		}
	}
}

// Sync fsyncs the current segment now. The fsync runs outside mu, so
// Appends go on meanwhile.
func (s *Spool) Sync() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	f, last := s.current().f, s.nextID-1
	s.mu.Unlock()
	if last <= s.durable.Load() {
		return nil
	}
	if err := f.Sync(); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return nil // rolled meanwhile, and roll synced it
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.broken = fmt.Errorf("%w: fsync: %w", ErrBroken, err)
		return s.broken
	}
	s.markDurable(last)
	return nil
}

// syncEvery is SyncInterval's goroutine: it syncs every SyncEvery until
// Close.
func (s *Spool) syncEvery() {
	defer s.syncer.Done()
	t := time.NewTicker(s.opts.SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sync() // an error stays in s.broken for the next call
		}
	}
}

// Stats returns the current counts.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		PendingEntries: s.pendingEntries,
		PendingBytes:   s.pendingBytes,
		Segments:       len(s.segs),
		Appended:       s.appended,
		Done:           s.doneCount,
		TornFrames:     s.report.TornFrames,
		TornBytes:      s.report.TornBytes,
		Quarantined:    len(s.report.Quarantined),
	}
}

// Close syncs and closes the current segment (deleting it if none of its
// entries is pending) and releases the directory's lock. Calls after Close
// fail with ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.syncer.Wait()
	s.syncMu.Lock() // wait for a Sync under way
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.current()
	var errs []error
	if err := cur.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("spool: fsync: %w", err))
	} else if s.broken == nil {
		s.markDurable(s.nextID - 1)
	}
	if err := cur.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: close segment: %w", err))
	}
	cur.f = nil
	if cur.left == 0 {
		if err := s.drop(len(s.segs) - 1); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: unlock: %w", err))
	}
	return errors.Join(errs...)
}
