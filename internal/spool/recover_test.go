package spool

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
)

// life is one Open..Close of buildSpool: n appends into segments of seg
// bytes.
type life struct {
	n   int
	seg int64
}

// buildSpool makes a spool in a new directory from the given lives and
// returns the directory and the entries in order.
func buildSpool(t *testing.T, maxData int, lives ...life) (string, []Entry) {
	t.Helper()
	dir := t.TempDir()
	var all []Entry
	for l, lf := range lives {
		s, _, _ := open(t, dir, Options{SegmentBytes: lf.seg, Sync: SyncNever})
		all = append(all, appendGen(t, s, uint64(l*1000+1), lf.n, maxData)...)
		mustClose(t, s)
	}
	return dir, all
}

// TestTornTailEveryLength cuts the last segment at every length and checks
// that exactly the whole frames before the cut come back, that the rest is
// reported cut, and that the spool is usable and stays so over a reopen.
func TestTornTailEveryLength(t *testing.T) {
	dir, all := buildSpool(t, 40, life{4, 1 << 20}, life{4, 1 << 20}) // two segments of four frames
	files := segFiles(t, dir)
	spans := layout(t, files, all)
	last := len(files) - 1
	st, _ := os.Stat(files[last])
	size := st.Size()
	nLast := 0
	for _, sp := range spans {
		if sp.file == last {
			nLast++
		}
	}
	if nLast < 3 {
		t.Fatalf("%d frames in the last segment", nLast)
	}
	for cut := int64(0); cut <= size; cut++ {
		d := copyDir(t, dir)
		lastFile := segFiles(t, d)[last]
		if err := os.Truncate(lastFile, cut); err != nil {
			t.Fatal(err)
		}
		var want []Entry
		var boundary int64
		for _, sp := range spans {
			if sp.file < last || sp.off+sp.len <= cut {
				want = append(want, all[sp.entry])
				if sp.file == last {
					boundary = sp.off + sp.len
				}
			}
		}
		s, got, rep := open(t, d, Options{Sync: SyncNever})
		sameEntries(t, got, want)
		wantFrames := 0
		if cut > boundary {
			wantFrames = 1
		}
		if rep.TornBytes != cut-boundary || rep.TornFrames != wantFrames || len(rep.Quarantined) != 0 {
			t.Fatalf("cut at %d (frames end at %d): report %+v", cut, boundary, rep)
		}
		if st := s.Stats(); st.TornBytes != rep.TornBytes || st.PendingEntries != int64(len(want)) {
			t.Fatalf("cut at %d: stats %+v", cut, st)
		}
		more := appendGen(t, s, 5000, 1, 40)
		mustClose(t, s)
		s, got, rep = open(t, d, Options{Sync: SyncNever})
		sameEntries(t, got, append(want, more...))
		if rep.TornBytes != 0 || len(rep.Quarantined) != 0 {
			t.Fatalf("cut at %d, second reopen: report %+v", cut, rep)
		}
		mustClose(t, s)
	}
}

// TestBitFlips flips one byte at a time at seeded random places in a copy of
// a spool of several segments and checks what Open makes of it: no panic;
// exactly the frames before the flipped one in its segment are lost from
// it; a flip in the very last frame is cut as a torn tail, any other sends
// the rest of its segment to quarantine; a reopen then finds the same.
func TestBitFlips(t *testing.T) {
	// Small segments, then a last one of five frames.
	dir, all := buildSpool(t, 60, life{12, 400}, life{12, 400}, life{5, 1 << 20})
	files := segFiles(t, dir)
	if len(files) < 4 {
		t.Fatalf("%d segments", len(files))
	}
	spans := layout(t, files, all)
	if sp := spans[len(spans)-3]; sp.file != len(files)-1 {
		t.Fatalf("fewer than 3 frames in the last segment")
	}
	var total int64
	for _, sp := range spans {
		total += sp.len
	}
	r := rand.New(rand.NewPCG(1, 2))
	const flips = 500
	for range flips {
		pos := r.Int64N(total)
		mask := byte(1 + r.IntN(255))
		var hit frameSpan
		for _, sp := range spans {
			if pos < sp.len {
				hit = sp
				break
			}
			pos -= sp.len
		}
		at := hit.off + pos // offset in its file
		d := copyDir(t, dir)
		df := segFiles(t, d)
		b, err := os.ReadFile(df[hit.file])
		if err != nil {
			t.Fatal(err)
		}
		b[at] ^= mask
		if err := os.WriteFile(df[hit.file], b, 0o600); err != nil {
			t.Fatal(err)
		}

		var want []Entry
		lastInFile := true
		for _, sp := range spans {
			if sp.file != hit.file || sp.off < hit.off {
				want = append(want, all[sp.entry])
			}
			if sp.file == hit.file && sp.off > hit.off {
				lastInFile = false
			}
		}
		s, got, rep := open(t, d, Options{Sync: SyncNever})
		sameEntries(t, got, want)
		if hit.file == len(files)-1 && lastInFile {
			if rep.TornBytes != hit.len || len(rep.Quarantined) != 0 {
				t.Fatalf("flip %#x at %d of the last frame: report %+v", mask, at, rep)
			}
		} else {
			if len(rep.Quarantined) != 1 || rep.TornBytes != 0 {
				t.Fatalf("flip %#x at %d of %s: report %+v", mask, at, df[hit.file], rep)
			}
			q := rep.Quarantined[0]
			if q.File != df[hit.file][:len(df[hit.file])-len(segSuffix)]+quarantinedSuffix ||
				q.Offset != hit.off || q.Bytes != int64(len(b))-hit.off || !errors.Is(q.Err, ErrCorrupt) {
				t.Fatalf("flip %#x at %d of %s (frame at %d): %+v", mask, at, df[hit.file], hit.off, q)
			}
			qb, err := os.ReadFile(q.File)
			if err != nil || string(qb) != string(b) {
				t.Fatalf("quarantined file does not hold the segment as found: %v", err)
			}
			_, err = os.Stat(df[hit.file])
			if (hit.off == 0) != errors.Is(err, os.ErrNotExist) {
				t.Fatalf("flip in frame at %d: segment file stat says %v", hit.off, err)
			}
		}
		mustClose(t, s)
		s, got, rep = open(t, d, Options{Sync: SyncNever})
		sameEntries(t, got, want)
		if rep.TornBytes != 0 || len(rep.Quarantined) != 0 {
			t.Fatalf("reopen after a flip: report %+v", rep)
		}
		mustClose(t, s)
	}
}

// TestIDsNotIncreasingAreCorrupt writes a segment whose frames are valid
// one by one but whose ids go backwards: quarantine, not a torn tail, even
// at the end of the last segment.
func TestIDsNotIncreasingAreCorrupt(t *testing.T) {
	dir := t.TempDir()
	var b []byte
	b = appendFrame(b, 5, []byte("a"), nil)
	b = appendFrame(b, 6, []byte("b"), nil)
	b = appendFrame(b, 6, []byte("c"), nil)
	if err := os.WriteFile(dir+"/"+segName(5), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, got, rep := open(t, dir, Options{})
	defer mustClose(t, s)
	if len(got) != 2 || string(got[1].Meta) != "b" || len(rep.Quarantined) != 1 || rep.TornBytes != 0 {
		t.Fatalf("%d entries, report %+v", len(got), rep)
	}
	if !errors.Is(rep.Quarantined[0].Err, errIDOrder) || !errors.Is(rep.Quarantined[0].Err, ErrCorrupt) {
		t.Fatalf("reason %v", rep.Quarantined[0].Err)
	}
	id, err := s.Append(nil, nil)
	if err != nil || id != 7 {
		t.Fatalf("Append after quarantine: id %d, %v", id, err)
	}
}

// TestZeroedTailIsTorn: a file system may leave zeros after the last write
// of a crashed machine; zeros at the end of the last segment are cut.
func TestZeroedTailIsTorn(t *testing.T) {
	dir := t.TempDir()
	b := appendFrame(nil, 1, []byte("m"), []byte("d"))
	b = append(b, make([]byte, 4096)...)
	if err := os.WriteFile(dir+"/"+segName(1), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, got, rep := open(t, dir, Options{})
	defer mustClose(t, s)
	if len(got) != 1 || rep.TornBytes != 4096 || len(rep.Quarantined) != 0 {
		t.Fatalf("%d entries, report %+v", len(got), rep)
	}
}

// TestQuarantineCrashLeftovers: a .tmp prefix beside its segment is dropped
// (the segment is judged again); a .tmp alone takes the segment's name.
func TestQuarantineCrashLeftovers(t *testing.T) {
	good := appendFrame(nil, 1, []byte("m"), []byte("d"))
	bad := append(appendFrame(nil, 2, nil, nil), appendFrame(nil, 3, nil, nil)...)
	bad[10] ^= 1 // the id of frame 2; frame 3 after it is valid
	whole := append(append([]byte{}, good...), bad...)

	dir := t.TempDir()
	seg := dir + "/" + segName(1)
	os.WriteFile(seg, whole, 0o600)
	os.WriteFile(seg[:len(seg)-len(segSuffix)]+tmpSuffix, good[:10], 0o600)
	s, got, rep := open(t, dir, Options{})
	if len(got) != 1 || len(rep.Quarantined) != 1 {
		t.Fatalf("tmp beside segment: %d entries, %+v", len(got), rep)
	}
	mustClose(t, s)

	dir = t.TempDir()
	seg = dir + "/" + segName(1)
	os.WriteFile(seg[:len(seg)-len(segSuffix)]+quarantinedSuffix, whole, 0o600)
	os.WriteFile(seg[:len(seg)-len(segSuffix)]+tmpSuffix, good, 0o600)
	s, got, rep = open(t, dir, Options{})
	if len(got) != 1 || len(rep.Quarantined) != 0 || string(got[0].Data) != "d" {
		t.Fatalf("tmp alone: %d entries, %+v", len(got), rep)
	}
	mustClose(t, s)
}

// frameInfo is one frame found by walkFrames.
type frameInfo struct {
	file     int // index into the files walked
	off, len int64
	kind     byte
	id       uint64   // an entry's
	names    []uint64 // a done frame's ids
}

// walkFrames lists the frames of files by their headers' kinds and lengths,
// without the package's parser.
func walkFrames(t *testing.T, files []string) []frameInfo {
	t.Helper()
	var out []frameInfo
	for fi, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(b); {
			h := b[off:]
			n := 28 + int(binary.BigEndian.Uint32(h[16:])) + int(binary.BigEndian.Uint32(h[20:]))
			fr := frameInfo{file: fi, off: int64(off), len: int64(n), kind: h[5], id: binary.BigEndian.Uint64(h[8:])}
			if fr.kind == 2 {
				for p := 28; p < n; p += 8 {
					fr.names = append(fr.names, binary.BigEndian.Uint64(h[p:]))
				}
			}
			out = append(out, fr)
			off += n
		}
	}
	return out
}

// TestBitFlipsWithDoneFrames flips one byte at a time at seeded random
// places in a spool of entries and done frames over several segments and
// two lives, and checks Open against a model: the flipped frame and every
// frame after it in its file are lost; an entry comes back if it was not
// lost and no done frame left names it. So a flipped done frame brings
// back the entries it named (replayed, never lost), and a flipped entry
// loses only itself and what follows it in its segment.
func TestBitFlipsWithDoneFrames(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 400, Sync: SyncNever}
	r := rand.New(rand.NewPCG(7, 8))
	byK := map[uint64]Entry{}
	var live []uint64
	// doneSome dones one or two entries now and then, never the first, so
	// that no segment is deleted and every frame stays in the model.
	doneSome := func(s *Spool) {
		if len(live) < 3 || r.IntN(3) != 0 {
			return
		}
		n := 1 + r.IntN(2)
		ids := make([]uint64, 0, n)
		for range n {
			i := 1 + r.IntN(len(live)-1)
			ids = append(ids, live[i])
			live = append(live[:i], live[i+1:]...)
		}
		if err := s.DoneMany(ids); err != nil {
			t.Fatal(err)
		}
	}
	for l := range 2 {
		s, _, _ := open(t, dir, opts)
		for k := uint64(l*100 + 1); k <= uint64(l*100+14); k++ {
			e := appendGen(t, s, k, 1, 60)[0]
			byK[e.ID] = e
			live = append(live, e.ID)
			doneSome(s)
		}
		if err := s.Done(live[1]); err != nil { // a done frame last
			t.Fatal(err)
		}
		live = append(live[:1], live[2:]...)
		mustClose(t, s)
	}
	files := segFiles(t, dir)
	frames := walkFrames(t, files)
	nDone := 0
	for _, fr := range frames {
		if fr.kind == 2 {
			nDone++
		}
	}
	if len(files) < 6 || nDone < 5 || frames[len(frames)-1].kind != 2 {
		t.Fatalf("%d files, %d frames, %d done frames", len(files), len(frames), nDone)
	}
	// expect returns the entries Open must return when frames from lost
	// on in file lostFile are gone (lost < 0: none).
	expect := func(lostFile int, lostOff int64) []Entry {
		done := map[uint64]bool{}
		var ids []uint64
		for _, fr := range frames {
			if fr.file == lostFile && fr.off >= lostOff {
				continue
			}
			if fr.kind == 2 {
				for _, id := range fr.names {
					done[id] = true
				}
			} else {
				ids = append(ids, fr.id)
			}
		}
		var out []Entry
		for _, id := range ids {
			if !done[id] {
				out = append(out, byK[id])
			}
		}
		return out
	}
	c, got, _ := open(t, copyDir(t, dir), opts)
	sameEntries(t, got, expect(-1, 0))
	mustClose(t, c)

	var total int64
	for _, fr := range frames {
		total += fr.len
	}
	const flips = 200
	inDone, cameBack := 0, 0 // flips in a done frame; entries replayed because of them
	for range flips {
		pos := r.Int64N(total)
		mask := byte(1 + r.IntN(255))
		var hit frameInfo
		for _, fr := range frames {
			if pos < fr.len {
				hit = fr
				break
			}
			pos -= fr.len
		}
		d := copyDir(t, dir)
		df := segFiles(t, d)
		b, err := os.ReadFile(df[hit.file])
		if err != nil {
			t.Fatal(err)
		}
		b[hit.off+pos] ^= mask
		if err := os.WriteFile(df[hit.file], b, 0o600); err != nil {
			t.Fatal(err)
		}
		want := expect(hit.file, hit.off)
		if hit.kind == 2 {
			inDone++
			cameBack += len(want) - len(expect(hit.file, hit.off+hit.len))
		}
		s, got, rep := open(t, d, opts)
		sameEntries(t, got, want)
		lastFrame := hit.file == len(files)-1 && hit.off+hit.len == int64(len(b))
		if lastFrame != (rep.TornBytes == hit.len) || lastFrame == (len(rep.Quarantined) == 1) {
			t.Fatalf("flip %#x at %d of frame %+v: report %+v", mask, pos, hit, rep)
		}
		for _, e := range got {
			mustRead(t, s, e)
		}
		mustClose(t, s)
		s, got, rep = open(t, d, opts)
		sameEntries(t, got, want)
		if rep.TornBytes != 0 || len(rep.Quarantined) != 0 {
			t.Fatalf("reopen after a flip: report %+v", rep)
		}
		mustClose(t, s)
	}
	t.Logf("%d files, %d frames (%d done); %d of %d flips in done frames, bringing back %d entries",
		len(files), len(frames), nDone, inDone, flips, cameBack)
}
