package batch

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// loadable returns a finished batch of n records, stamped when pid >= 0.
func loadable(t testing.TB, c Codec, n int, pid int64) *Builder {
	t.Helper()
	var b Builder
	for i := range n {
		b.Append(int64(1000+i), []byte(fmt.Sprint("k", i)), bytes.Repeat([]byte{byte(i)}, 50), nil)
	}
	var comp *Compressor
	if c != None {
		var err error
		if comp, err = NewCompressor(c, DefaultLevel); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Finish(comp); err != nil {
		t.Fatal(err)
	}
	if pid >= 0 {
		b.Stamp(pid, 3, 17, false)
	}
	return &b
}

func TestLoadRoundTrip(t *testing.T) {
	for _, c := range []Codec{None, Gzip, Snappy, LZ4, Zstd} {
		for _, pid := range []int64{-1, 42} {
			orig := loadable(t, c, 20, pid)
			raw := orig.Len()
			var b Builder
			if err := b.Load(bytes.Clone(orig.Bytes()), raw); err != nil {
				t.Fatalf("%s pid %d: %v", c, pid, err)
			}
			if !bytes.Equal(b.Bytes(), orig.Bytes()) || b.NumRecords() != 20 || b.Codec() != c ||
				b.FirstTimestamp() != 1000 || b.MaxTimestamp() != 1019 || b.Len() != raw {
				t.Fatalf("%s: loaded batch differs: n %d codec %s ts %d..%d len %d", c, b.NumRecords(), b.Codec(), b.FirstTimestamp(), b.MaxTimestamp(), b.Len())
			}
			gotPID, epoch, seq, ok := b.Stamped()
			if ok != (pid >= 0) || (ok && (gotPID != pid || epoch != 3 || seq != 17)) {
				t.Fatalf("%s: Stamped() = %d %d %d %v", c, gotPID, epoch, seq, ok)
			}
			// A new stamp on the loaded batch writes what Stamp on the
			// original writes.
			b.Stamp(7, 1, 99, false)
			orig.Stamp(7, 1, 99, false)
			if !bytes.Equal(b.Bytes(), orig.Bytes()) {
				t.Fatalf("%s: restamped loaded batch differs from the restamped original", c)
			}
			var seen int
			if err := b.EachRecord(func(Record) bool { seen++; return true }); err != nil || seen != 20 {
				t.Fatalf("%s: EachRecord: %d records, %v", c, seen, err)
			}
		}
	}
}

func TestLoadRefusesDamage(t *testing.T) {
	good := loadable(t, LZ4, 5, 42).Bytes()
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x20
		var b Builder
		if err := b.Load(bad, 0); !errors.Is(err, ErrCorrupt) {
			// The base offset and the leader epoch are outside the CRC and
			// not checked; every other byte is.
			if i < offBatchLength || (i >= offLeaderEpoch && i < offMagic) {
				continue
			}
			t.Fatalf("flip at %d: %v, want ErrCorrupt", i, err)
		}
	}
	for n := range len(good) {
		var b Builder
		if err := b.Load(bytes.Clone(good[:n]), 0); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: %v, want ErrCorrupt", n, err)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(loadable(f, None, 3, 42).Bytes())
	f.Add(loadable(f, Zstd, 3, -1).Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Builder
		if err := b.Load(bytes.Clone(data), 0); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(b.Bytes(), data) {
			t.Fatal("Bytes differ from the loaded buffer")
		}
		b.Stamp(1, 2, 3, false)
		var again Builder
		if err := again.Load(bytes.Clone(b.Bytes()), 0); err != nil {
			t.Fatalf("a restamped loaded batch does not load: %v", err)
		}
		b.EachRecord(func(Record) bool { return true }) // must not panic
	})
}
