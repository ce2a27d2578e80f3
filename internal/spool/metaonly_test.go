package spool

import (
	"bytes"
	"fmt"
	"testing"
)

// TestOpenMetaOnly: Open with MetaOnly returns every pending entry's
// metadata and data length but not its data, which Read still gives.
func TestOpenMetaOnly(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := open(t, dir, Options{SegmentBytes: 4 << 10})
	var ids []uint64
	for i := range 40 {
		id, err := s.Append(fmt.Appendf(nil, "meta-%d", i), bytes.Repeat([]byte{byte(i)}, 100+i*13))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.DoneMany(ids[:5]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, entries, _ := open(t, dir, Options{MetaOnly: true})
	defer s.Close()
	if len(entries) != 35 {
		t.Fatalf("%d entries back, want 35", len(entries))
	}
	for j, e := range entries {
		i := j + 5
		if e.ID != ids[i] || string(e.Meta) != fmt.Sprintf("meta-%d", i) || e.Data != nil || e.DataLen != 100+i*13 {
			t.Fatalf("entry %d: id %d meta %q data %d bytes, DataLen %d", i, e.ID, e.Meta, len(e.Data), e.DataLen)
		}
		r, err := s.Read(e.ID)
		if err != nil || !bytes.Equal(r.Data, bytes.Repeat([]byte{byte(i)}, 100+i*13)) || r.DataLen != len(r.Data) {
			t.Fatalf("Read(%d): %d bytes, DataLen %d, %v", e.ID, len(r.Data), r.DataLen, err)
		}
	}
}
