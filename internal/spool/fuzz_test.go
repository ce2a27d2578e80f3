package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen writes arbitrary bytes as a spool's only segment and opens it:
// no panic, and allocation bounded by the input (a frame is read only when
// the file holds it). Recovery must leave the directory so that a second
// Open returns the same entries plus one appended in between, with nothing
// more to cut or quarantine.
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
		}
		if payload > len(b) || int64(payload)+rep.TornBytes > int64(len(b)) {
			t.Fatalf("%d bytes of frames and %d cut from %d", payload, rep.TornBytes, len(b))
		}
		want := es
		id, err := s.Append([]byte("m"), []byte("d"))
		switch {
		case err == nil:
			want = append(want[:len(want):len(want)], Entry{ID: id, Meta: []byte("m"), Data: []byte("d")})
		case errors.Is(err, ErrFull) && es[len(es)-1].ID == maxID:
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
