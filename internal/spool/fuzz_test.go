package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen writes arbitrary bytes as a spool's only segment and opens it:
// no panic, and allocation bounded by the input (a frame is read only when
// the file holds it). Every entry returned reads back the same by id.
// Recovery must leave the directory so that a second Open returns the same
// entries less the first (done in between) plus one appended in between,
// with nothing more to cut or quarantine.
func FuzzOpen(f *testing.F) {
	var valid []byte
	valid = appendFrame(valid, 1, []byte("meta"), []byte("data"))
	valid = appendFrame(valid, 2, nil, nil)
	valid = appendFrame(valid, 9, []byte{1, 2, 3}, make([]byte, 100))
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(valid[:40])
	flipped := append([]byte(nil), valid...)
	flipped[40] ^= 0x10
	f.Add(flipped)
	f.Add(append(append([]byte(nil), valid...), make([]byte, 64)...))
	huge := appendFrame(nil, 3, nil, nil)
	huge[20], huge[21] = 0x07, 0xff // 128 MiB of data claimed
	f.Add(append(huge, valid...))
	f.Add([]byte{})
	for _, seed := range doneSeeds() {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := Options{Sync: SyncNever}
		s, es, rep, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		var payload int
		for i, e := range es {
			if e.ID == 0 || (i > 0 && e.ID <= es[i-1].ID) {
				t.Fatalf("ids %v", es)
			}
			payload += headerLen + len(e.Meta) + len(e.Data)
			r, err := s.Read(e.ID)
			if err != nil {
				t.Fatalf("Read %d: %v", e.ID, err)
			}
			sameEntries(t, []Entry{r}, []Entry{e})
		}
		if payload > len(b) || int64(payload)+rep.TornBytes > int64(len(b)) {
			t.Fatalf("%d bytes of frames and %d cut from %d", payload, rep.TornBytes, len(b))
		}
		want := es
		if len(es) > 0 {
			if err := s.Done(es[0].ID); err != nil {
				t.Fatalf("Done: %v", err)
			}
			want = es[1:]
		}
		id, err := s.Append([]byte("m"), []byte("d"))
		switch {
		case err == nil:
			want = append(want[:len(want):len(want)], Entry{ID: id, Meta: []byte("m"), Data: []byte("d")})
		case errors.Is(err, ErrFull) && s.nextID > maxID:
			// The last id there is: nothing more can be appended.
		default:
			t.Fatalf("Append: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, again, rep2, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		defer s.Close()
		sameEntries(t, again, want)
		if rep2.TornBytes != 0 || len(rep2.Quarantined) != 0 {
			t.Fatalf("second Open: %+v", rep2)
		}
	})
}

// doneSeeds are segments with done frames: mixed with entries and naming an
// unknown id; torn at the tail; flipped in the middle; naming every entry;
// alone.
func doneSeeds() [][]byte {
	var mixed []byte
	for id := uint64(1); id <= 3; id++ {
		mixed = appendFrame(mixed, id, []byte{byte(id)}, []byte("data"))
	}
	mixed = appendDoneFrame(mixed, []uint64{2})
	mixed = appendFrame(mixed, 4, nil, []byte("four"))
	mixed = appendDoneFrame(mixed, []uint64{1, 4, 99})

	torn := appendFrame(nil, 1, []byte("m"), nil)
	torn = appendFrame(torn, 2, nil, []byte("d"))
	torn = appendDoneFrame(torn, []uint64{1})
	torn = appendDoneFrame(torn, []uint64{2})
	torn = torn[:len(torn)-5]

	flipped := appendFrame(nil, 1, nil, []byte("a"))
	at := len(flipped) + headerLen + 3
	flipped = appendDoneFrame(flipped, []uint64{1})
	flipped = appendFrame(flipped, 2, nil, []byte("b"))
	flipped[at] ^= 0x40

	all := appendFrame(nil, 5, nil, nil)
	all = appendFrame(all, 6, []byte("x"), nil)
	all = appendDoneFrame(all, []uint64{6, 5})

	alone := appendDoneFrame(nil, []uint64{5, 6})
	return [][]byte{mixed, torn, flipped, all, alone}
}
