package spool

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"
)

// without returns es less the entries whose ids are in done, in order.
func without(es []Entry, done map[uint64]bool) []Entry {
	var out []Entry
	for _, e := range es {
		if !done[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// doneHalf dones a seeded random half of es, about half of them one by one
// and the rest by DoneMany in groups of 1 to 6, and returns the ids done
// and the done frames written.
func doneHalf(t *testing.T, s *Spool, es []Entry, seed uint64) (map[uint64]bool, int) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 5))
	perm := r.Perm(len(es))[:len(es)/2]
	done := map[uint64]bool{}
	frames := 0
	for len(perm) > 0 {
		n := 1
		if r.IntN(2) == 0 {
			n = min(len(perm), 1+r.IntN(6))
		}
		ids := make([]uint64, n)
		for i, p := range perm[:n] {
			ids[i] = es[p].ID
			done[es[p].ID] = true
		}
		var err error
		if n == 1 && r.IntN(2) == 0 {
			err = s.Done(ids[0])
		} else {
			err = s.DoneMany(ids)
		}
		if err != nil {
			t.Fatal(err)
		}
		frames++
		perm = perm[n:]
	}
	return done, frames
}

// TestDonePersisted appends 100 entries, dones a random half (some by
// DoneMany) and checks that exactly the other half comes back, in append
// order: after a Close, after a crash of the process (the directory copied
// while open: what write(2) put in the files, nothing synced for the
// Dones), and over a second round; with each sync policy.
func TestDonePersisted(t *testing.T) {
	for _, pol := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run([]string{"always", "interval", "never"}[pol], func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentBytes: 3000, Sync: pol, SyncEvery: time.Hour}
			s, _, _ := open(t, dir, opts)
			es := appendGen(t, s, 1, 100, 200)
			done, frames := doneHalf(t, s, es, uint64(pol))
			want := without(es, done)
			st := s.Stats()
			if st.PendingEntries != 50 || st.Done != 50 || st.DoneFrames != uint64(frames) || st.DoneUnwritten != 0 {
				t.Fatalf("stats %+v, %d frames written", st, frames)
			}
			for id := range done {
				_, err := s.Read(id)
				isErr(t, err, ErrNotPending)
				isErr(t, s.Done(id), ErrNotPending)
			}

			crashed := copyDir(t, dir) // as a kill -9 leaves it
			c, got, rep := open(t, crashed, opts)
			sameEntries(t, got, want)
			if rep.Entries != 50 || rep.DoneFrames != frames || rep.Done > 50 || rep.TornBytes != 0 || len(rep.Quarantined) != 0 {
				t.Fatalf("after a crash: report %+v", rep)
			}
			mustClose(t, c)

			mustClose(t, s)
			s, got, _ = open(t, dir, opts)
			sameEntries(t, got, want)
			for _, e := range got {
				mustRead(t, s, e)
			}
			// A second round over replayed entries, then all of them.
			done2, _ := doneHalf(t, s, got, 10+uint64(pol))
			want2 := without(got, done2)
			mustClose(t, s)
			s, got, _ = open(t, dir, opts)
			sameEntries(t, got, want2)
			ids := make([]uint64, len(got))
			for i, e := range got {
				ids[i] = e.ID
			}
			if err := s.DoneMany(ids); err != nil {
				t.Fatal(err)
			}
			mustClose(t, s)
			if f := segFiles(t, dir); len(f) != 0 {
				t.Fatalf("all done and closed, segments left: %v", f)
			}
		})
	}
}

// TestDoneMany: nothing done when one id is not pending or repeated; none
// for no ids; more ids than one frame holds take several frames.
func TestDoneMany(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{Sync: SyncNever})
	es := appendGen(t, s, 1, doneFrameIDs+1000, 0)
	a, b := es[0].ID, es[1].ID
	if err := s.DoneMany(nil); err != nil {
		t.Fatal(err)
	}
	isErr(t, s.DoneMany([]uint64{a, b, a}), ErrNotPending)
	isErr(t, s.DoneMany([]uint64{a, es[len(es)-1].ID + 1}), ErrNotPending)
	if st := s.Stats(); st.Done != 0 || st.DoneFrames != 0 || st.PendingEntries != int64(len(es)) {
		t.Fatalf("refused DoneMany calls changed the stats: %+v", st)
	}
	mustRead(t, s, es[0])
	mustRead(t, s, es[1])
	ids := make([]uint64, 0, len(es)-1)
	for _, e := range es[1:] {
		ids = append(ids, e.ID)
	}
	if err := s.DoneMany(ids); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Done != uint64(len(ids)) || st.DoneFrames != 2 || st.PendingEntries != 1 {
		t.Fatalf("stats %+v after a DoneMany of %d ids", st, len(ids))
	}
	mustClose(t, s)
	s, got, rep := open(t, dir, Options{})
	defer mustClose(t, s)
	sameEntries(t, got, es[:1])
	if rep.DoneFrames != 2 || rep.Done != len(ids) {
		t.Fatalf("report %+v", rep)
	}
}

// TestDeletionOrder: a segment whose entries are all done stays while an
// older segment has one pending (its done frames would be needed if it
// held any), at runtime and at Open, and goes with the older one; a
// segment of done frames only is kept the same way.
func TestDeletionOrder(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 600, Sync: SyncNever}
	s, _, _ := open(t, dir, opts)
	var es []Entry
	for k := uint64(1); k <= 12; k++ { // 136-byte frames: four a segment
		meta := binary.BigEndian.AppendUint64(nil, k)
		id, err := s.Append(meta, make([]byte, 100))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, Entry{ID: id, Meta: meta, Data: make([]byte, 100)})
	}
	files := segFiles(t, dir)
	spans := layout(t, files, es)
	if len(files) != 3 || spans[4].file != 1 || spans[8].file != 2 {
		t.Fatalf("files %v", files)
	}
	segA, segB := es[0:4], es[4:8]
	for _, e := range segB {
		if err := s.Done(e.ID); err != nil {
			t.Fatal(err)
		}
	}
	if f := segFiles(t, dir); len(f) != 3 || s.Stats().Segments != 3 {
		t.Fatalf("B done, A pending: files %v", f)
	}
	// At Open too: B stays, A and C come back, B's entries do not.
	crashed := copyDir(t, dir)
	c, got, _ := open(t, crashed, opts)
	sameEntries(t, got, append(append([]Entry{}, segA...), es[8:]...))
	if f := segFiles(t, crashed); len(f) != 4 { // A, B, C, and the new current one
		t.Fatalf("reopened with B done, A pending: files %v", f)
	}
	mustClose(t, c)
	for _, e := range segA[:3] {
		if err := s.Done(e.ID); err != nil {
			t.Fatal(err)
		}
	}
	if f := segFiles(t, dir); len(f) != 3 {
		t.Fatalf("A not all done: files %v", f)
	}
	if err := s.Done(segA[3].ID); err != nil {
		t.Fatal(err)
	}
	if f := segFiles(t, dir); len(f) != 1 || f[0] != files[2] || s.Stats().Segments != 1 {
		t.Fatalf("A and B done: files %v, want only %s", f, files[2])
	}
	mustClose(t, s)

	// A segment of done frames only: life 2 dones three of life 1's four
	// entries; its segment stays while life 1's does.
	dir = t.TempDir()
	s, _, _ = open(t, dir, opts)
	es = appendGen(t, s, 1, 4, 50)
	mustClose(t, s)
	s, _, _ = open(t, dir, opts)
	if err := s.DoneMany([]uint64{es[0].ID, es[1].ID, es[2].ID}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	if f := segFiles(t, dir); len(f) != 2 {
		t.Fatalf("life 2 closed: files %v", f)
	}
	s, got, rep := open(t, dir, opts)
	sameEntries(t, got, es[3:])
	if rep.Done != 3 || len(segFiles(t, dir)) != 3 {
		t.Fatalf("life 3: report %+v, files %v", rep, segFiles(t, dir))
	}
	if err := s.Done(es[3].ID); err != nil {
		t.Fatal(err)
	}
	if f := segFiles(t, dir); len(f) != 1 {
		t.Fatalf("all done: files %v", f)
	}
	mustClose(t, s)
	if f := segFiles(t, dir); len(f) != 0 {
		t.Fatalf("all done and closed: files %v", f)
	}
}

// TestDoneUnwritten makes done frames fail to write (ENOSPC): the ids are
// done all the same, a segment they complete is deleted (and its ids need
// no frame any more), a crash before the frame is written replays the
// entry, and Sync or Close write it once the disk takes it.
func TestDoneUnwritten(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{SegmentBytes: 300, Sync: SyncNever})
	var es []Entry
	for k := uint64(1); k <= 6; k++ { // 136-byte frames: two a segment
		meta := binary.BigEndian.AppendUint64(nil, k)
		id, err := s.Append(meta, make([]byte, 100))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, Entry{ID: id, Meta: meta, Data: make([]byte, 100)})
	}
	full := func(f *os.File, b []byte, off int64) (int, error) {
		n, _ := f.WriteAt(b[:len(b)/2], off)
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	done := func(e Entry) error {
		err := s.Done(e.ID)
		isErr(t, err, ErrDoneUnwritten)
		isErr(t, err, ErrDiskFull)
		isErr(t, err, syscall.ENOSPC)
		return err
	}
	check := func(wantUnwritten int, want ...Entry) {
		t.Helper()
		if st := s.Stats(); st.DoneUnwritten != wantUnwritten {
			t.Fatalf("stats %+v, want %d unwritten", st, wantUnwritten)
		}
		c, got, rep := open(t, copyDir(t, dir), Options{})
		sameEntries(t, got, want)
		if rep.TornBytes != 0 || len(rep.Quarantined) != 0 {
			t.Fatalf("report %+v", rep)
		}
		mustClose(t, c)
	}
	files := segFiles(t, dir)
	cur := files[len(files)-1]
	size := func() int64 { fi, _ := os.Stat(cur); return fi.Size() }
	before := size()

	s.writeAt = full
	done(es[0])
	isErr(t, s.Done(es[0].ID), ErrNotPending) // done all the same
	_, err := s.Read(es[0].ID)
	isErr(t, err, ErrNotPending)
	if size() != before {
		t.Fatalf("half a done frame left in the file")
	}
	check(1, es...) // a crash now replays it
	done(es[1])     // completes the first segment: deleted, nothing to write
	if f := segFiles(t, dir); len(f) != 2 {
		t.Fatalf("first segment done: files %v", f)
	}
	check(0, es[2:]...)
	done(es[2])
	check(1, es[2:]...)
	s.writeAt = (*os.File).WriteAt
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.DoneFrames != 1 {
		t.Fatalf("stats %+v after Sync wrote the frame", st)
	}
	check(0, es[3:]...)
	s.writeAt = full
	done(es[4])
	check(1, es[3], es[4], es[5])
	s.writeAt = (*os.File).WriteAt
	if err := s.Done(es[3].ID); err != nil { // takes es[4] along
		t.Fatal(err)
	}
	check(0, es[5])
	s.writeAt = full
	done(es[5])
	s.writeAt = (*os.File).WriteAt
	mustClose(t, s) // writes it
	s, got, _ := open(t, dir, Options{})
	defer mustClose(t, s)
	if len(got) != 0 {
		t.Fatalf("%d entries back after all were done", len(got))
	}
}

// TestSyncCoversDoneFrames: Sync, and the interval syncer, fsync a segment
// that only had done frames written since the last fsync.
func TestSyncCoversDoneFrames(t *testing.T) {
	s, _, _ := open(t, t.TempDir(), Options{Sync: SyncNever})
	defer mustClose(t, s)
	es := appendGen(t, s, 1, 3, 10)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(es[0].ID); err != nil {
		t.Fatal(err)
	}
	if w := s.synced.Load(); w != 3 {
		t.Fatalf("%d frames synced, 3 appended and synced, a done frame written since", w)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if w := s.synced.Load(); w != 4 {
		t.Fatalf("%d frames synced, 4 written", w)
	}

	s2, _, _ := open(t, t.TempDir(), Options{Sync: SyncInterval, SyncEvery: time.Millisecond})
	defer mustClose(t, s2)
	es = appendGen(t, s2, 1, 2, 10)
	if err := s2.Done(es[1].ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s2.synced.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("done frame not synced by the interval syncer in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// The bytes of an entry frame (id 7, meta "me", data "dat") and of a done
// frame naming 7 and 9; the CRCs were computed apart from this package.
const (
	entryFrameHex = "4b53504601010000" + "0000000000000007" + "00000002" + "00000003" + "5acff886" + "6d65" + "646174"
	doneFrameHex  = "4b53504601020000" + "0000000000000000" + "00000000" + "00000010" + "8219797c" + "0000000000000007" + "0000000000000009"
)

// TestFrameBytes pins the bytes of both frame kinds.
func TestFrameBytes(t *testing.T) {
	entry, done := entryFrameHex, doneFrameHex
	if got := hex.EncodeToString(appendFrame(nil, 7, []byte("me"), []byte("dat"))); got != entry {
		t.Fatalf("entry frame %s, want %s", got, entry)
	}
	if got := hex.EncodeToString(appendDoneFrame(nil, []uint64{7, 9})); got != done {
		t.Fatalf("done frame %s, want %s", got, done)
	}
}

// TestOldSpoolOpens opens a segment of kind-1 frames written by hand, as
// the spool wrote them before done frames: both entries come back.
func TestOldSpoolOpens(t *testing.T) {
	dir := t.TempDir()
	b, _ := hex.DecodeString(entryFrameHex)
	b = appendFrame(b, 8, nil, []byte("x"))
	if err := os.WriteFile(dir+"/"+segName(7), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, got, rep := open(t, dir, Options{})
	defer mustClose(t, s)
	sameEntries(t, got, []Entry{{ID: 7, Meta: []byte("me"), Data: []byte("dat")}, {ID: 8, Data: []byte("x")}})
	if rep.TornBytes != 0 || len(rep.Quarantined) != 0 || rep.DoneFrames != 0 {
		t.Fatalf("report %+v", rep)
	}
	mustRead(t, s, got[0])
}
