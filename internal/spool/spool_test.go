package spool

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, es, rep := open(t, dir, Options{})
	if len(es) != 0 || rep.Segments != 0 {
		t.Fatalf("new dir: %d entries, report %+v", len(es), rep)
	}
	want := appendGen(t, s, 1, 50, 2000)
	want = append(want, Entry{ID: 0, Meta: nil, Data: nil}) // an empty entry
	id, err := s.Append(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want[len(want)-1].ID = id
	for i := 1; i < len(want); i++ {
		if want[i].ID <= want[i-1].ID {
			t.Fatalf("ids not increasing: %d then %d", want[i-1].ID, want[i].ID)
		}
	}
	mustClose(t, s)

	s, got, rep := open(t, dir, Options{})
	sameEntries(t, got, want)
	if rep.Entries != len(want) || rep.TornBytes != 0 || len(rep.Quarantined) != 0 {
		t.Fatalf("report %+v", rep)
	}
	// New ids go on above the replayed ones.
	more := appendGen(t, s, 100, 3, 100)
	if more[0].ID <= want[len(want)-1].ID {
		t.Fatalf("id %d after replayed %d", more[0].ID, want[len(want)-1].ID)
	}
	mustClose(t, s)
	s, got, _ = open(t, dir, Options{})
	sameEntries(t, got, append(want, more...))
	mustClose(t, s)
}

func TestDoneDeletesSegmentsAndIsNotReplayed(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1000, Sync: SyncNever}
	s, _, _ := open(t, dir, opts)
	es := appendGen(t, s, 1, 40, 200) // several segments
	if st := s.Stats(); st.Segments < 4 {
		t.Fatalf("segments after 40 appends of ≤ 236 bytes into 1000-byte segments: %d", st.Segments)
	}
	files := segFiles(t, dir)
	spans := layout(t, files, es)
	// Done the whole first segment and half of the second.
	var kept []Entry
	doneInSecond := 0 // named by done frames and still on disk
	for _, sp := range spans {
		if sp.file == 0 || (sp.file == 1 && sp.entry%2 == 0) {
			if err := s.Done(es[sp.entry].ID); err != nil {
				t.Fatal(err)
			}
			if sp.file == 1 {
				doneInSecond++
			}
		} else {
			kept = append(kept, es[sp.entry])
		}
	}
	if _, err := os.Stat(files[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("first segment, all done: stat says %v", err)
	}
	if _, err := os.Stat(files[1]); err != nil {
		t.Fatalf("second segment, half done: %v", err)
	}
	st := s.Stats()
	if st.Segments != len(files)-1 || st.PendingEntries != int64(len(kept)) || st.Done != uint64(len(es)-len(kept)) ||
		st.DoneFrames != uint64(len(es)-len(kept)) || st.Appended != 40 {
		t.Fatalf("stats %+v; %d files, %d kept", st, len(files), len(kept))
	}
	var size int64
	for _, f := range files[1:] {
		fi, _ := os.Stat(f)
		size += fi.Size()
	}
	if st.PendingBytes != size {
		t.Fatalf("pending bytes %d, files hold %d", st.PendingBytes, size)
	}
	isErr(t, s.Done(es[0].ID), ErrNotPending)           // deleted segment
	isErr(t, s.Done(es[len(es)-1].ID+1), ErrNotPending) // never appended
	mustClose(t, s)

	// Done is on disk: only the entries not done come back.
	s, got, rep := open(t, dir, opts)
	sameEntries(t, got, kept)
	// The frames naming the first segment's entries are read too; those
	// ids are unknown now and ignored.
	if rep.Done != doneInSecond || rep.DoneFrames != len(es)-len(kept) || rep.Entries != len(kept) {
		t.Fatalf("report %+v, want %d done of %d frames", rep, doneInSecond, len(es)-len(kept))
	}
	// Done all of them: every old segment goes; the current one holds
	// only their done frames and is removed by Close, as no segment is
	// left before it.
	for _, e := range got {
		if err := s.Done(e.ID); err != nil {
			t.Fatal(err)
		}
	}
	isErr(t, s.Done(got[0].ID), ErrNotPending) // done twice
	cur := segFiles(t, dir)
	if len(cur) != 1 {
		t.Fatalf("all done: segment files %v", cur)
	}
	fi, err := os.Stat(cur[0])
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Segments != 1 || st.PendingEntries != 0 || st.PendingBytes != fi.Size() ||
		fi.Size() != int64(len(got))*(headerLen+8) {
		t.Fatalf("all done: stats %+v, current segment %d bytes", st, fi.Size())
	}
	mustClose(t, s)
	if f := segFiles(t, dir); len(f) != 0 {
		t.Fatalf("all done and closed, segments left: %v", f)
	}
	s, got, _ = open(t, dir, opts)
	if len(got) != 0 {
		t.Fatalf("%d entries after all were done", len(got))
	}
	mustClose(t, s)
}

func TestCurrentSegmentDoneIsKeptUntilRolled(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{SegmentBytes: 500})
	es := appendGen(t, s, 1, 2, 50)
	for _, e := range es {
		if err := s.Done(e.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segFiles(t, dir)); n != 1 {
		t.Fatalf("%d segment files; the current one stays while it is current", n)
	}
	first := segFiles(t, dir)[0]
	// Rolling away from an all-done segment deletes it.
	if _, err := s.Append(nil, make([]byte, 450)); err != nil {
		t.Fatal(err)
	}
	if f := segFiles(t, dir); len(f) != 1 || f[0] == first {
		t.Fatalf("segment files after rolling away from an all-done %s: %v", first, f)
	}
	mustClose(t, s)
}

func TestSegmentRolling(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{SegmentBytes: 4096})
	es := appendGen(t, s, 1, 100, 300)
	files := segFiles(t, dir)
	if len(files) < 5 {
		t.Fatalf("%d segments for ~17 KiB in 4 KiB segments", len(files))
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 4096 {
			t.Fatalf("%s: %d bytes, over SegmentBytes", f, fi.Size())
		}
	}
	layout(t, files, es) // every frame where expected, in order
	// An entry larger than a segment gets one alone.
	big := make([]byte, 10000)
	if _, err := s.Append(nil, big); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s, got, _ := open(t, dir, Options{SegmentBytes: 4096})
	sameEntries(t, got[:len(es)], es)
	if len(got) != len(es)+1 || len(got[len(es)].Data) != len(big) {
		t.Fatalf("big entry not replayed")
	}
	mustClose(t, s)
}

func TestFullRefusesAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{MaxBytes: 1000, SegmentBytes: 300, Sync: SyncNever})
	var es []Entry
	for {
		meta, data := genEntry(uint64(len(es)+1), 0)
		data = make([]byte, 72) // 28+8+72 = 108-byte frames
		id, err := s.Append(meta, data)
		if err != nil {
			isErr(t, err, ErrFull)
			break
		}
		es = append(es, Entry{ID: id, Meta: meta, Data: data})
		if len(es) > 9 {
			t.Fatalf("%d frames of 108 bytes in 1000", len(es))
		}
	}
	if len(es) != 9 {
		t.Fatalf("%d frames of 108 bytes fit in 1000", len(es))
	}
	before := s.Stats()
	if _, err := s.Append(nil, make([]byte, 72)); !errors.Is(err, ErrFull) {
		t.Fatalf("second Append over the limit: %v", err)
	}
	if after := s.Stats(); after != before {
		t.Fatalf("stats moved on a refused Append: %+v -> %+v", before, after)
	}
	// A small one still fits: the limit counts bytes.
	if _, err := s.Append(nil, nil); err != nil {
		t.Fatalf("28-byte Append with 28 bytes free: %v", err)
	}
	// Done frees room only when a segment goes.
	for _, e := range es[:2] {
		if err := s.Done(e.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(nil, make([]byte, 72)); err != nil {
		t.Fatalf("Append after the first segment was done: %v", err)
	}
	mustClose(t, s)
}

func TestTooLarge(t *testing.T) {
	s, _, _ := open(t, t.TempDir(), Options{})
	defer mustClose(t, s)
	// Not allocated: the lengths are checked first.
	big := make([]byte, MaxFrameBytes/2+1)
	_, err := s.Append(big, big)
	isErr(t, err, ErrTooLarge)
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{})
	_, _, _, err := Open(dir, Options{})
	isErr(t, err, ErrLocked)
	mustClose(t, s)
	s, _, _ = open(t, dir, Options{}) // free again after Close
	mustClose(t, s)
}

func TestClosed(t *testing.T) {
	s, _, _ := open(t, t.TempDir(), Options{Sync: SyncInterval, SyncEvery: time.Millisecond})
	es := appendGen(t, s, 1, 3, 10)
	mustClose(t, s)
	_, err := s.Append(nil, nil)
	isErr(t, err, ErrClosed)
	isErr(t, s.Done(es[0].ID), ErrClosed)
	isErr(t, s.Sync(), ErrClosed)
	isErr(t, s.Close(), ErrClosed)
	if st := s.Stats(); st.PendingEntries != 3 {
		t.Fatalf("stats after Close: %+v", st)
	}
}

func TestSyncPolicies(t *testing.T) {
	t.Run("always", func(t *testing.T) {
		s, _, _ := open(t, t.TempDir(), Options{Sync: SyncAlways})
		defer mustClose(t, s)
		for k := uint64(1); k <= 5; k++ {
			e := appendGen(t, s, k, 1, 10)[0]
			if d := s.Durable(); d != e.ID {
				t.Fatalf("Durable %d right after Append of %d", d, e.ID)
			}
		}
	})
	t.Run("never", func(t *testing.T) {
		dir := t.TempDir()
		s, _, _ := open(t, dir, Options{Sync: SyncNever})
		es := appendGen(t, s, 1, 5, 10)
		if d := s.Durable(); d != 0 {
			t.Fatalf("Durable %d with SyncNever and no Sync", d)
		}
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		if d := s.Durable(); d != es[4].ID {
			t.Fatalf("Durable %d after Sync, want %d", d, es[4].ID)
		}
		mustClose(t, s)
		s, got, _ := open(t, dir, Options{Sync: SyncNever})
		sameEntries(t, got, es)
		if d := s.Durable(); d != es[4].ID {
			t.Fatalf("Durable %d after reopen, want %d", d, es[4].ID)
		}
		mustClose(t, s)
	})
	t.Run("interval", func(t *testing.T) {
		s, _, _ := open(t, t.TempDir(), Options{Sync: SyncInterval, SyncEvery: 5 * time.Millisecond})
		defer mustClose(t, s)
		es := appendGen(t, s, 1, 5, 10)
		deadline := time.Now().Add(5 * time.Second)
		for s.Durable() < es[4].ID {
			if time.Now().After(deadline) {
				t.Fatalf("Durable %d after 5 s, want %d", s.Durable(), es[4].ID)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

func TestConcurrentAppendDone(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{SegmentBytes: 2000, Sync: SyncInterval, SyncEvery: time.Millisecond})
	const workers, each = 4, 200
	var wg sync.WaitGroup
	kept := make([][]Entry, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := uint64(w*each + i + 1)
				meta, data := genEntry(k, 100)
				id, err := s.Append(meta, data)
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					kept[w] = append(kept[w], Entry{ID: id, Meta: meta, Data: data})
				} else if err := s.Done(id); err != nil {
					t.Error(err)
					return
				}
				_ = s.Stats()
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	var nkept int
	for _, k := range kept {
		nkept += len(k)
	}
	if st.Appended != workers*each || st.PendingEntries != int64(nkept) || st.Done != uint64(workers*each-nkept) {
		t.Fatalf("stats %+v, %d kept", st, nkept)
	}
	mustClose(t, s)
	s, got, _ := open(t, dir, Options{})
	defer mustClose(t, s)
	// Exactly the kept entries come back, intact, in id order.
	var want []Entry
	for _, k := range kept {
		want = append(want, k...)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	sameEntries(t, got, want)
}

func TestOtherFilesAreLeftAlone(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"notes.txt", "1.seg", "00000000000000000001.segx"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, es, rep := open(t, dir, Options{})
	if len(es) != 0 || rep.Segments != 0 {
		t.Fatalf("foreign files read: %d entries, %+v", len(es), rep)
	}
	mustClose(t, s)
	des, _ := os.ReadDir(dir)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "notes.txt") || !strings.Contains(got, "1.seg") {
		t.Fatalf("foreign files gone: %s", got)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{SegmentBytes: -1}, {MaxBytes: -1}, {SyncEvery: -1}, {Sync: 7}} {
		if _, _, _, err := Open(t.TempDir(), o); err == nil {
			t.Fatalf("Open with %+v succeeded", o)
		}
	}
}
