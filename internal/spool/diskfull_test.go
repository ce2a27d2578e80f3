package spool

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestDiskFull injects a write that gets half the frame out and then fails
// with ENOSPC (no small tmpfs can be mounted by a test here): Append fails
// with ErrDiskFull, the partial frame is cut off again, and the spool takes
// the next Append and replays only the whole entries.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{})
	want := appendGen(t, s, 1, 3, 100)
	before := s.Stats()
	cur := segFiles(t, dir)[0]
	st0, _ := os.Stat(cur)

	s.writeAt = func(f *os.File, b []byte, off int64) (int, error) {
		n, err := f.WriteAt(b[:len(b)/2], off)
		if err != nil {
			return n, err
		}
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	meta, data := genEntry(99, 100)
	_, err := s.Append(meta, data)
	isErr(t, err, ErrDiskFull)
	isErr(t, err, syscall.ENOSPC)
	if st, _ := os.Stat(cur); st.Size() != st0.Size() {
		t.Fatalf("segment %d bytes after a failed Append, %d before", st.Size(), st0.Size())
	}
	if after := s.Stats(); after != before {
		t.Fatalf("stats moved: %+v -> %+v", before, after)
	}

	// Other write errors are not ErrDiskFull, and cut back too.
	s.writeAt = func(f *os.File, b []byte, off int64) (int, error) {
		f.WriteAt(b[:5], off)
		return 5, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.EIO}
	}
	_, err = s.Append(meta, data)
	if err == nil || errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("EIO write: %v", err)
	}

	s.writeAt = (*os.File).WriteAt
	more := appendGen(t, s, 10, 2, 100)
	if more[0].ID != want[2].ID+1 {
		t.Fatalf("id %d after a failed Append, want %d", more[0].ID, want[2].ID+1)
	}
	mustClose(t, s)
	s, got, rep := open(t, dir, Options{})
	defer mustClose(t, s)
	sameEntries(t, got, append(want, more...))
	if rep.TornBytes != 0 || len(rep.Quarantined) != 0 {
		t.Fatalf("report %+v", rep)
	}
}

// TestBrokenAfterFailedFsync: after a failed fsync nothing is known of the
// file, so the spool refuses further Appends with ErrBroken until reopened.
func TestBrokenAfterFailedFsync(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{})
	appendGen(t, s, 1, 1, 10)
	// Closing the file under the spool makes its fsync fail.
	s.mu.Lock()
	s.current().f.Close()
	s.mu.Unlock()
	s.writeAt = func(f *os.File, b []byte, off int64) (int, error) { return len(b), nil }
	_, err := s.Append(nil, nil)
	isErr(t, err, ErrBroken)
	_, err = s.Append(nil, nil)
	isErr(t, err, ErrBroken)
	s.Close()
	s, got, _ := open(t, dir, Options{})
	if len(got) != 1 {
		t.Fatalf("%d entries after reopening a broken spool", len(got))
	}
	mustClose(t, s)
}

// TestDiskFullTmpfs fills a real 256 KiB tmpfs, where the test may mount
// one (root, and mounts allowed); it is skipped elsewhere. The failed
// Append leaves the files as they were; Dones whose frames find no room
// still count (ErrDoneUnwritten), so the first segment is deleted once all
// done and makes room; a reopen replays exactly the entries not done.
func TestDiskFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	opts := Options{SegmentBytes: 32 << 10, Sync: SyncNever}
	s, _, _ := open(t, dir, opts)
	t.Cleanup(func() { s.Close() }) // before the unmount, should the test fail
	var want []Entry
	data := make([]byte, 3000)
	for k := uint64(1); ; k++ {
		data[0] = byte(k)
		id, err := s.Append([]byte{byte(k)}, data)
		if err != nil {
			isErr(t, err, ErrDiskFull)
			isErr(t, err, syscall.ENOSPC)
			break
		}
		want = append(want, Entry{ID: id, Meta: []byte{byte(k)}, Data: append([]byte(nil), data...)})
		if k > 1000 {
			t.Fatal("256 KiB tmpfs never full")
		}
	}
	st := s.Stats()
	var onDisk int64
	for _, f := range segFiles(t, dir) {
		fi, _ := os.Stat(f)
		onDisk += fi.Size()
	}
	if onDisk != st.PendingBytes || st.PendingEntries != int64(len(want)) {
		t.Fatalf("after ENOSPC: %d bytes in files, stats %+v, %d appended", onDisk, st, len(want))
	}
	// Done the first segment's entries: it is deleted and frees room,
	// whether their done frames could be written or not.
	first := layout(t, segFiles(t, dir), want)
	n, unwritten := 0, 0
	for _, sp := range first {
		if sp.file == 0 {
			if err := s.Done(want[sp.entry].ID); err != nil {
				isErr(t, err, ErrDoneUnwritten)
				isErr(t, err, ErrDiskFull)
				unwritten++
			}
			n++
		}
	}
	if st := s.Stats(); st.DoneUnwritten != 0 || st.Segments != len(segFiles(t, dir)) {
		t.Fatalf("first segment done: stats %+v, files %v", st, segFiles(t, dir))
	}
	if _, err := s.Append([]byte{0}, data); err != nil {
		t.Fatalf("Append after freeing a segment: %v", err)
	}
	want = append(want[n:], Entry{ID: want[len(want)-1].ID + 1, Meta: []byte{0}, Data: data})
	mustClose(t, s)
	s, got, rep := open(t, dir, opts)
	defer mustClose(t, s)
	sameEntries(t, got, want)
	if rep.TornBytes != 0 || len(rep.Quarantined) != 0 {
		t.Fatalf("report %+v", rep)
	}
	t.Logf("tmpfs full after %d entries; %d of %d done frames found no room", len(want)-1+n, unwritten, n)
}
