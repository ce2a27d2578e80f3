package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// genEntry makes the metadata and data of test entry k: the metadata holds
// k, the data is derived from it, so any entry can be checked alone.
func genEntry(k uint64, maxData int) (meta, data []byte) {
	meta = binary.BigEndian.AppendUint64(nil, k)
	r := rand.New(rand.NewPCG(k, 7))
	data = make([]byte, r.IntN(maxData+1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return meta, data
}

// checkGen fails t unless e's data is what genEntry makes for its metadata.
func checkGen(t *testing.T, e Entry, maxData int) {
	t.Helper()
	if len(e.Meta) != 8 {
		t.Fatalf("entry %d: metadata of %d bytes", e.ID, len(e.Meta))
	}
	_, data := genEntry(binary.BigEndian.Uint64(e.Meta), maxData)
	if !bytes.Equal(data, e.Data) {
		t.Fatalf("entry %d: data differs from what was appended", e.ID)
	}
}

// open opens dir or fails t.
func open(t *testing.T, dir string, opts Options) (*Spool, []Entry, Report) {
	t.Helper()
	s, es, rep, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, es, rep
}

// mustClose closes s or fails t.
func mustClose(t *testing.T, s *Spool) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// appendGen appends test entries first..first+n-1 and returns them as
// entries.
func appendGen(t *testing.T, s *Spool, first uint64, n, maxData int) []Entry {
	t.Helper()
	var out []Entry
	for k := first; k < first+uint64(n); k++ {
		meta, data := genEntry(k, maxData)
		id, err := s.Append(meta, data)
		if err != nil {
			t.Fatalf("Append %d: %v", k, err)
		}
		out = append(out, Entry{ID: id, Meta: meta, Data: data})
	}
	return out
}

// sameEntries fails t unless got and want are equal, entry by entry.
func sameEntries(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || !bytes.Equal(g.Meta, w.Meta) || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("entry %d: got id %d (%d+%d bytes), want id %d (%d+%d bytes)",
				i, g.ID, len(g.Meta), len(g.Data), w.ID, len(w.Meta), len(w.Data))
		}
	}
}

// segFiles lists the segment files in dir, in order.
func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// frameSpan is where one appended entry's frame lies.
type frameSpan struct {
	file     int // index into segFiles
	off, len int64
	entry    int // index into the entries appended
}

// layout places the appended entries, in order, into the segment files by
// the files' sizes and the frames' lengths (header plus payload), without
// the package's parser.
func layout(t *testing.T, files []string, entries []Entry) []frameSpan {
	t.Helper()
	var spans []frameSpan
	k := 0
	for fi, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		var off int64
		for off < st.Size() {
			if k == len(entries) {
				t.Fatalf("%s: %d bytes left after every entry", f, st.Size()-off)
			}
			n := int64(headerLen + len(entries[k].Meta) + len(entries[k].Data))
			spans = append(spans, frameSpan{file: fi, off: off, len: n, entry: k})
			off += n
			k++
		}
		if off != st.Size() {
			t.Fatalf("%s: frames end at %d, file at %d", f, off, st.Size())
		}
	}
	if k != len(entries) {
		t.Fatalf("files hold %d entries, %d appended", k, len(entries))
	}
	return spans
}

// isErr fails t unless errors.Is(err, target).
func isErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}
