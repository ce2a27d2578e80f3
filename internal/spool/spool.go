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
	// starts again at 1 (ids only name entries for Read and Done).
	ID   uint64
	Meta []byte // the caller's metadata, not interpreted by the spool
	Data []byte // the batch bytes; nil from an Open with Options.MetaOnly
	// DataLen is len(Data), also when Open left the data out.
	DataLen int
}

// Spool is an open spool directory. Every method is safe to call from
// several goroutines.
type Spool struct {
	dir  string
	opts Options
	lock *os.File // holds the directory's flock until Close

	durable atomic.Uint64 // highest id known fsynced; only grows
	synced  atomic.Uint64 // writes known fsynced; only grows
	syncMu  sync.Mutex    // one Sync at a time; taken before mu, never inside it
	stop    chan struct{} // closed by Close to end the interval syncer
	syncer  sync.WaitGroup

	// writeAt writes a frame; tests replace it to inject write errors.
	writeAt func(f *os.File, b []byte, off int64) (int, error)
	// readHook, if set, runs in ReadInto between finding the entry and
	// reading it, without mu; tests delete the segment there.
	readHook func(id uint64)

	// mu guards everything below: the segment list and each segment in it
	// (their ids, offsets, done flags, sizes and files), the id counter, the
	// counts, and closed and broken.
	mu             sync.Mutex
	closed         bool
	broken         error      // set by an i/o failure that leaves the files unknown
	segs           []*segment // not yet deleted, in order; the last is the current one
	nextID         uint64
	pendingBytes   int64
	pendingEntries int64
	appended       uint64
	doneCount      uint64
	doneFrames     uint64
	writes         uint64   // frames written since Open
	unwritten      []uint64 // ids done whose done frame could not be written yet
	report         Report
	buf            []byte // frame being written; reused
}

// Stats is a snapshot of a Spool's counts.
type Stats struct {
	PendingEntries int64  // entries not done
	PendingBytes   int64  // bytes of the segment files not yet deleted
	Segments       int    // segment files not yet deleted, the current one included
	Appended       uint64 // Appends that succeeded since Open
	Done           uint64 // ids done since Open (by Done or DoneMany)
	DoneFrames     uint64 // done frames written since Open
	DoneUnwritten  int    // ids done whose done frame is still to be written (see ErrDoneUnwritten)
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
	var done []uint64 // ids named by done frames
	var prevID uint64
	for i, num := range l.segs {
		path := filepath.Join(s.dir, segName(num))
		sc, err := scanSegment(path, i == len(l.segs)-1, prevID, s.opts.MetaOnly)
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
		if sc.good == 0 {
			// Not a frame left in it: nothing it held can matter.
			if err := removeFile(s.dir, path); err != nil {
				return nil, err
			}
			continue
		}
		seg := &segment{num: num, path: path, size: sc.good, left: len(sc.entries), upTo: sc.lastID}
		seg.ids = make([]uint64, len(sc.entries))
		for j, e := range sc.entries {
			seg.ids[j] = e.ID
		}
		seg.offs = sc.offs
		seg.done = make([]bool, len(seg.ids))
		s.segs = append(s.segs, seg)
		entries = append(entries, sc.entries...)
		done = append(done, sc.done...)
		s.report.DoneFrames += sc.doneFrames
		prevID = sc.lastID
	}
	if len(s.segs) > 0 {
		// Written by an earlier life, perhaps never synced; rolled
		// segments were synced when they were rolled. Synced before any
		// segment is deleted for the done frames in it.
		if err := syncFile(s.segs[len(s.segs)-1].path); err != nil {
			return nil, err
		}
	}
	// Done frames name entries written before them, so every entry is
	// read by now. Ids no segment holds are ignored: their segment went
	// already (or was quarantined).
	for _, id := range done {
		if seg, j := s.find(id); seg != nil && !seg.done[j] {
			seg.done[j] = true
			seg.left--
			s.report.Done++
		}
	}
	pending := entries[:0]
	k := 0
	for _, seg := range s.segs {
		for j := range seg.ids {
			if !seg.done[j] {
				pending = append(pending, entries[k])
			}
			k++
		}
	}
	clear(entries[len(pending):]) // let the done entries' bytes go
	// Delete the segments at the head whose entries are all done (see
	// dropDone); a done segment after a pending one stays.
	for len(s.segs) > 0 && s.segs[0].left == 0 {
		if err := removeFile(s.dir, s.segs[0].path); err != nil {
			return nil, err
		}
		s.segs = s.segs[1:]
	}
	for _, seg := range s.segs {
		s.pendingBytes += seg.size
		s.pendingEntries += int64(seg.left)
	}
	s.durable.Store(prevID)
	s.nextID = max(prevID, l.maxName) + 1
	cur, err := createSegment(s.dir, s.nextID)
	if err != nil {
		return nil, err
	}
	cur.upTo = prevID
	s.segs = append(s.segs, cur)
	s.report.Entries = len(pending)
	return pending, nil
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
	id, off := s.nextID, cur.size
	s.buf = appendFrame(s.buf[:0], id, meta, data)
	if err := s.writeFrame(); err != nil {
		return 0, err
	}
	s.nextID++
	cur.ids = append(cur.ids, id)
	cur.offs = append(cur.offs, off)
	cur.done = append(cur.done, false)
	cur.left++
	cur.upTo = id
	s.pendingEntries++
	s.appended++
	if s.opts.Sync == SyncAlways {
		if err := cur.f.Sync(); err != nil {
			// The frame is in the file, maybe on disk, maybe not: after a
			// failed fsync nothing is known, so no more appends.
			s.broken = fmt.Errorf("%w: fsync: %w", ErrBroken, err)
			return 0, s.broken
		}
		s.markSynced(s.writes, id)
	}
	return id, nil
}

// writeFrame writes the frame in s.buf at the end of the current segment
// and counts it. A failed write is cut off again (if that fails too, the
// spool is broken); ENOSPC is ErrDiskFull. Call with mu held.
func (s *Spool) writeFrame() error {
	cur := s.current()
	n := int64(len(s.buf))
	if _, err := s.writeAt(cur.f, s.buf, cur.size); err != nil {
		if terr := cur.f.Truncate(cur.size); terr != nil {
			s.broken = fmt.Errorf("%w: cutting a partial frame: %w (after %w)", ErrBroken, terr, err)
		}
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return fmt.Errorf("spool: write: %w", err)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep one huge entry's buffer
	}
	cur.size += n
	s.pendingBytes += n
	s.writes++
	return nil
}

// roll syncs and closes the current segment and starts a new one. Call with
// mu held.
func (s *Spool) roll() error {
	old := s.current()
	if err := old.f.Sync(); err != nil {
		s.broken = fmt.Errorf("%w: fsync: %w", ErrBroken, err)
		return s.broken
	}
	s.markSynced(s.writes, s.nextID-1)
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
	next.upTo = old.upTo
	s.segs = append(s.segs, next)
	return s.dropDone()
}

// drop deletes segment i. Call with mu held. The segment leaves the counts
// even if its file could not be removed (the error says so): its entries
// may then be replayed after a restart (once the done frames naming them
// are gone too), and the broker de-duplicates them.
func (s *Spool) drop(i int) error {
	seg := s.segs[i]
	s.segs = append(s.segs[:i], s.segs[i+1:]...)
	s.pendingBytes -= seg.size
	s.pendingEntries -= int64(seg.left)
	seg.gone = true
	seg.release()
	return removeFile(s.dir, seg.path)
}

// dropDone deletes the segments at the head of the list whose entries are
// all done, stopping at the first with an entry pending and never deleting
// the current one. Only such a prefix may go: a done frame is written after
// its entry, so while an older segment stays, a newer one may hold the done
// frames that keep its entries from being replayed. Call with mu held.
func (s *Spool) dropDone() error {
	var errs []error
	for len(s.segs) > 1 && s.segs[0].left == 0 {
		if err := s.drop(0); err != nil {
			errs = append(errs, err)
		}
	}
	if len(s.unwritten) > 0 {
		// Ids whose segments went need no done frame any more.
		keep := s.unwritten[:0]
		for _, id := range s.unwritten {
			if seg, _ := s.find(id); seg != nil {
				keep = append(keep, id)
			}
		}
		s.unwritten = keep
	}
	return errors.Join(errs...)
}

// find returns the segment holding entry id and its index there, or nil if
// no segment does. Call with mu held.
func (s *Spool) find(id uint64) (*segment, int) {
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].upTo >= id })
	if i == len(s.segs) {
		return nil, 0
	}
	seg := s.segs[i]
	j := sort.Search(len(seg.ids), func(j int) bool { return seg.ids[j] >= id })
	if j == len(seg.ids) || seg.ids[j] != id {
		return nil, 0
	}
	return seg, j
}

// Done records that the broker acknowledged entry id and writes a done
// frame naming it (write(2) only; the policy's next fsync syncs it), so Open
// no longer returns it. It fails with ErrNotPending or ErrDoneUnwritten.
func (s *Spool) Done(id uint64) error {
	one := [1]uint64{id}
	return s.DoneMany(one[:])
}

// DoneMany is Done for several ids, named by one done frame (one per 8192
// ids). If any id is not pending (or is repeated), it fails with
// ErrNotPending naming it and nothing is done.
func (s *Spool) DoneMany(ids []uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	for k, id := range ids {
		seg, j := s.find(id)
		if seg == nil || seg.done[j] {
			for _, prev := range ids[:k] {
				pseg, pj := s.find(prev)
				pseg.done[pj] = false
				pseg.left++
			}
			return fmt.Errorf("%w: %d", ErrNotPending, id)
		}
		seg.done[j] = true
		seg.left--
	}
	if len(ids) == 0 {
		return nil
	}
	s.pendingEntries -= int64(len(ids))
	s.doneCount += uint64(len(ids))
	werr := s.writeDone(ids)
	return errors.Join(werr, s.dropDone())
}

// writeDone writes done frames naming the ids left unwritten by an earlier
// failure and ids. If a write fails, the ids not yet written are kept for
// the next try (the next Done, Sync or Close). Call with mu held.
func (s *Spool) writeDone(ids []uint64) error {
	if len(s.unwritten) > 0 {
		ids = append(s.unwritten, ids...)
		s.unwritten = nil
	}
	for len(ids) > 0 {
		n := min(len(ids), doneFrameIDs)
		s.buf = appendDoneFrame(s.buf[:0], ids[:n])
		if err := s.writeFrame(); err != nil {
			s.unwritten = append([]uint64(nil), ids...) // ids may be the caller's
			return fmt.Errorf("%w (%d ids): %w", ErrDoneUnwritten, len(ids), err)
		}
		s.doneFrames++
		ids = ids[n:]
	}
	return nil
}

// Durable is the highest id known to be fsynced: every entry up to it
// survives a crash of the machine.
func (s *Spool) Durable() uint64 { return s.durable.Load() }

// markSynced records an fsync of the current segment after w frames were
// written, the last entry among them id.
func (s *Spool) markSynced(w, id uint64) {
	raise(&s.synced, w)
	raise(&s.durable, id)
}

// raise raises a to v if it is below.
func raise(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Sync fsyncs the current segment now, entries and done frames, after
// trying again to write the done frame of ids left unwritten. The fsync
// runs outside mu, so Appends go on meanwhile.
func (s *Spool) Sync() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	var derr error
	if len(s.unwritten) > 0 {
		derr = s.writeDone(nil)
	}
	f, last, w := s.current().f, s.nextID-1, s.writes
	s.mu.Unlock()
	if w <= s.synced.Load() {
		return derr
	}
	if err := f.Sync(); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return derr // rolled meanwhile, and roll synced it
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.broken = fmt.Errorf("%w: fsync: %w", ErrBroken, err)
		return s.broken
	}
	s.markSynced(w, last)
	return derr
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
		DoneFrames:     s.doneFrames,
		DoneUnwritten:  len(s.unwritten),
		TornFrames:     s.report.TornFrames,
		TornBytes:      s.report.TornBytes,
		Quarantined:    len(s.report.Quarantined),
	}
}

// Close writes the done frame of ids left unwritten if it can, syncs and
// closes the current segment (deleting it if it holds no frame, or no
// pending entry and no segment is before it), closes the files Read opened
// and releases the directory's lock. Calls after Close fail with ErrClosed.
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
	var errs []error
	if len(s.unwritten) > 0 && s.broken == nil {
		if err := s.writeDone(nil); err != nil {
			errs = append(errs, err)
		}
	}
	cur := s.current()
	if err := cur.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("spool: fsync: %w", err))
	} else if s.broken == nil {
		s.markSynced(s.writes, s.nextID-1)
	}
	if err := cur.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: close segment: %w", err))
	}
	cur.f = nil
	if cur.size == 0 || (cur.left == 0 && len(s.segs) == 1) {
		if err := s.drop(len(s.segs) - 1); err != nil {
			errs = append(errs, err)
		}
	}
	for _, seg := range s.segs {
		seg.gone = true // a Read under way closes rf when it ends
		seg.release()
	}
	if err := s.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: unlock: %w", err))
	}
	return errors.Join(errs...)
}
