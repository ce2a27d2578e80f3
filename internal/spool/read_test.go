package spool

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

// mustRead reads id or fails t, and checks it against want.
func mustRead(t *testing.T, s *Spool, want Entry) {
	t.Helper()
	got, err := s.Read(want.ID)
	if err != nil {
		t.Fatalf("Read %d: %v", want.ID, err)
	}
	sameEntries(t, []Entry{got}, []Entry{want})
}

// TestReadAcrossRollAndReopen reads entries back from rolled segments and
// the current one, with done frames between them, then from the segments
// Open recovered, and once their segment is deleted, not at all.
func TestReadAcrossRollAndReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 2000, Sync: SyncNever}
	s, _, _ := open(t, dir, opts)
	var es, kept []Entry
	for k := uint64(1); k <= 60; k++ {
		e := appendGen(t, s, k, 1, 300)[0]
		es = append(es, e)
		if k%3 == 0 { // a done frame after every third entry
			if err := s.Done(es[k-2].ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	empty, err := s.Append(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if i%3 != 1 {
			kept = append(kept, e)
		}
	}
	kept = append(kept, Entry{ID: empty})
	if st := s.Stats(); st.Segments < 5 {
		t.Fatalf("%d segments", st.Segments)
	}
	for _, e := range kept {
		mustRead(t, s, e)
	}
	for i := 1; i < len(es); i += 3 {
		_, err := s.Read(es[i].ID)
		isErr(t, err, ErrNotPending)
	}
	for _, id := range []uint64{0, empty + 1, 1 << 40} {
		_, err := s.Read(id)
		isErr(t, err, ErrNotPending)
	}

	// ReadInto uses the buffer when it is large enough, and only then.
	buf := make([]byte, 0, 4096)
	e, err := s.ReadInto(kept[0].ID, buf)
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, []Entry{e}, kept[:1])
	if &e.Meta[0] != &buf[:1][0] || cap(e.Meta) != len(e.Meta) {
		t.Fatalf("ReadInto with room did not use the buffer, or Meta may grow into Data")
	}
	small := make([]byte, 0, 4)
	e, err = s.ReadInto(kept[0].ID, small)
	if err != nil {
		t.Fatal(err)
	}
	sameEntries(t, []Entry{e}, kept[:1])
	if &e.Meta[0] == &small[:1][0] {
		t.Fatalf("ReadInto wrote past a buffer too small")
	}
	mustClose(t, s)
	_, err = s.Read(kept[0].ID)
	isErr(t, err, ErrClosed)

	s, got, _ := open(t, dir, opts)
	sameEntries(t, got, kept)
	more := appendGen(t, s, 100, 5, 300)
	for _, e := range append(got, more...) {
		mustRead(t, s, e)
	}
	// Done the first segment's entries: it goes, and so does its read
	// file, which the Reads above opened.
	s.mu.Lock()
	first := s.segs[0]
	var firstPending []uint64
	for j, id := range first.ids {
		if !first.done[j] {
			firstPending = append(firstPending, id)
		}
	}
	s.mu.Unlock()
	if err := s.DoneMany(firstPending); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	if !first.gone || first.rf != nil || s.segs[0] == first {
		t.Fatalf("first segment done: gone %v, read file %v", first.gone, first.rf)
	}
	s.mu.Unlock()
	_, err = s.Read(first.ids[0])
	isErr(t, err, ErrNotPending)
	for _, e := range append(got, more...) {
		if e.ID > first.ids[len(first.ids)-1] {
			mustRead(t, s, e)
		}
	}
	mustClose(t, s)
	for _, seg := range s.segs {
		if seg.rf != nil {
			t.Fatalf("segment %d: read file open after Close", seg.num)
		}
	}
}

// TestReadCorrupt flips each byte of an entry's frame on disk in turn, in
// a rolled segment and in the current one: Read fails with ErrCorrupt, no
// panic, and reads the entry again once the byte is back; its neighbours
// read meanwhile. A segment cut short under the spool is ErrCorrupt too.
func TestReadCorrupt(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{SegmentBytes: 600, Sync: SyncNever})
	defer s.Close()
	es := appendGen(t, s, 1, 20, 100)
	files := segFiles(t, dir)
	spans := layout(t, files, es)
	if spans[len(spans)-1].file < 2 {
		t.Fatalf("%d segments", len(files))
	}
	last := len(spans) - 1
	if spans[1].file == spans[last].file || spans[last-1].file != spans[last].file {
		t.Fatalf("frames 1 and %d not in a rolled segment and the current one", last-1)
	}
	for _, i := range []int{1, last - 1} { // a rolled segment's, the current one's
		sp := spans[i]
		f, err := os.OpenFile(files[sp.file], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		for at := sp.off; at < sp.off+sp.len; at++ {
			var b [1]byte
			if _, err := f.ReadAt(b[:], at); err != nil {
				t.Fatal(err)
			}
			mask := byte(1) << (at % 8)
			if _, err := f.WriteAt([]byte{b[0] ^ mask}, at); err != nil {
				t.Fatal(err)
			}
			_, err := s.Read(es[i].ID)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d of frame %d flipped: Read says %v", at-sp.off, i, err)
			}
			mustRead(t, s, es[i-1])
			mustRead(t, s, es[i+1])
			if _, err := f.WriteAt(b[:], at); err != nil {
				t.Fatal(err)
			}
			mustRead(t, s, es[i])
		}
		f.Close()
	}
	// Cut the current segment inside its last frame.
	sp := spans[last]
	if err := os.Truncate(files[sp.file], sp.off+sp.len-1); err != nil {
		t.Fatal(err)
	}
	_, err := s.Read(es[last].ID)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, errTruncated) {
		t.Fatalf("frame cut short: Read says %v", err)
	}
	mustRead(t, s, es[last-1])
}

// TestReadWhileSegmentDeleted deletes an entry's segment between Read's
// lookup and its disk read: the Read still returns the entry, and the last
// Read using the segment's file closes it.
func TestReadWhileSegmentDeleted(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{SegmentBytes: 300, Sync: SyncNever})
	defer mustClose(t, s)
	es := appendGen(t, s, 1, 8, 100)
	files := segFiles(t, dir)
	spans := layout(t, files, es)
	var first []uint64
	for _, sp := range spans {
		if sp.file == 0 {
			first = append(first, es[sp.entry].ID)
		}
	}
	mustRead(t, s, es[0]) // the segment's read file is open
	s.mu.Lock()
	seg := s.segs[0]
	s.mu.Unlock()
	inner := false
	s.readHook = func(id uint64) {
		if id != es[0].ID || inner {
			return
		}
		inner = true
		mustRead(t, s, es[0]) // a second Read of the same file, nested
		if err := s.DoneMany(first); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(files[0]); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("segment not deleted under the Read: %v", err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if seg.rf == nil || seg.readers != 1 {
			t.Fatalf("read file closed under a Read: %v, %d readers", seg.rf, seg.readers)
		}
	}
	mustRead(t, s, es[0])
	s.mu.Lock()
	defer s.mu.Unlock()
	if seg.rf != nil || seg.readers != 0 {
		t.Fatalf("after the Read: read file %v, %d readers", seg.rf, seg.readers)
	}
}

// TestReadConcurrent reads entries while another goroutine appends and
// acknowledges them, so that segments are deleted under Reads, and while
// the spool is closed: each Read returns its entry whole or ErrNotPending
// (or ErrClosed at the end), and nothing races (run with -race).
func TestReadConcurrent(t *testing.T) {
	s, _, _ := open(t, t.TempDir(), Options{SegmentBytes: 4000, Sync: SyncNever})
	var mu sync.Mutex
	var ids []uint64 // appended so far
	finished := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the producer: append, and Done a random one of the last 40
		defer wg.Done()
		defer close(finished)
		r := rand.New(rand.NewPCG(3, 4))
		var live []uint64
		for k := uint64(1); k <= 1500; k++ {
			meta, data := genEntry(k, 200)
			id, err := s.Append(meta, data)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
			live = append(live, id)
			if len(live) > 40 {
				i := r.IntN(len(live))
				if err := s.Done(live[i]); err != nil {
					t.Error(err)
					return
				}
				live = append(live[:i], live[i+1:]...)
			}
		}
	}()
	var reads, notPending [3]int
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			buf := make([]byte, 0, 256)
			for closed := false; !closed; {
				select {
				case <-finished:
					closed = true
				default:
				}
				mu.Lock()
				if len(ids) == 0 {
					mu.Unlock()
					continue
				}
				id := ids[len(ids)-1-r.IntN(min(len(ids), 60))]
				mu.Unlock()
				e, err := s.ReadInto(id, buf)
				switch {
				case err == nil:
					if e.ID != id {
						t.Errorf("Read %d returned id %d", id, e.ID)
						return
					}
					_, data := genEntry(uint64From(e.Meta), 200)
					if !bytes.Equal(data, e.Data) {
						t.Errorf("Read %d: data differs", id)
						return
					}
					reads[w]++
				case errors.Is(err, ErrNotPending):
					notPending[w]++
				case errors.Is(err, ErrClosed): // only after the producer finished
					closed = true
				default:
					t.Errorf("Read %d: %v", id, err)
					return
				}
			}
			// Close comes meanwhile: every Read ends whole or ErrClosed.
			for range 200 {
				mu.Lock()
				id := ids[r.IntN(len(ids))]
				mu.Unlock()
				if _, err := s.Read(id); err != nil && !errors.Is(err, ErrNotPending) && !errors.Is(err, ErrClosed) {
					t.Errorf("Read %d around Close: %v", id, err)
					return
				}
			}
		}()
	}
	<-finished
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
	t.Logf("reads %v, not pending %v", reads, notPending)
	for _, seg := range s.segs {
		if seg.rf != nil || seg.readers != 0 {
			t.Fatalf("segment %d after Close and the Reads: read file %v, %d readers", seg.num, seg.rf, seg.readers)
		}
	}
}
