package batch_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kprod/kprod/internal/batch"
)

// byteStream turns fuzz input into record fields; past its end it yields
// zeros.
type byteStream struct{ p []byte }

func (s *byteStream) byte() byte {
	if len(s.p) == 0 {
		return 0
	}
	b := s.p[0]
	s.p = s.p[1:]
	return b
}

// field is null for a leading 0, else that byte minus one bytes of data.
func (s *byteStream) field() []byte {
	n := int(s.byte())
	if n == 0 {
		return nil
	}
	n = min(n-1, len(s.p))
	f := s.p[:n:n]
	s.p = s.p[n:]
	return f
}

func (s *byteStream) timestamp() int64 {
	var v int64
	for range 3 {
		v = v<<8 | int64(s.byte())
	}
	return v - 1<<23 // both signs
}

// recordsFrom decodes between 1 and 32 records from fuzz input.
func recordsFrom(data []byte) []rec {
	s := &byteStream{p: data}
	recs := make([]rec, 1+s.byte()%32)
	for i := range recs {
		r := &recs[i]
		r.ts = 1_700_000_000_000 + s.timestamp()
		r.key = s.field()
		r.value = s.field()
		for range s.byte() % 4 {
			r.headers = append(r.headers, batch.Header{Key: string(s.field()), Value: s.field()})
		}
	}
	return recs
}

// codecLevel picks a codec and one of its tested levels from two bytes.
func codecLevel(c, l byte) (batch.Codec, int) {
	cl := allCodecs[int(c)%len(allCodecs)]
	return cl.codec, cl.levels[int(l)%len(cl.levels)]
}

func FuzzBuilder(f *testing.F) {
	f.Add([]byte{}, byte(0), byte(0))
	f.Add([]byte{3, 0, 0, 0, 2, 'k', 6, 'v', 'a', 'l', 'u', 'e', 1, 4, 'h', 'd', 'r', 0}, byte(1), byte(2))
	f.Add(bytes.Repeat([]byte{0xff, 0x00, 0x10}, 200), byte(2), byte(0))
	f.Add(bytes.Repeat([]byte("record with some text "), 30), byte(3), byte(4))
	f.Add(bytes.Repeat([]byte{7, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 50), byte(4), byte(5))
	f.Fuzz(func(t *testing.T, data []byte, c, l byte) {
		recs := recordsFrom(data)
		codec, level := codecLevel(c, l)
		st := stamp{set: len(data)%2 == 1, pid: int64(len(data)) * 7919, epoch: int16(len(data)), seq: int32(len(data)) * 3, txn: len(data)%4 == 1}
		var b batch.Builder
		for i, r := range recs {
			size := b.AppendSize(r.ts, r.key, r.value, r.headers)
			before := b.Len()
			b.Append(r.ts, r.key, r.value, r.headers)
			if b.Len()-before != size {
				t.Fatalf("record %d: AppendSize %d, grew %d", i, size, b.Len()-before)
			}
		}
		if codec == batch.None {
			defer func() {
				if want := kmsgBatch(recs, st); !bytes.Equal(b.Bytes(), want) {
					t.Fatal("uncompressed batch differs from kmsg's encoding")
				}
			}()
		}
		comp, err := batch.NewCompressor(codec, level)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Finish(comp); err != nil {
			t.Fatal(err)
		}
		if st.set {
			b.Stamp(st.pid, st.epoch, st.seq, st.txn)
		}
		d, err := decode(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.check(recs, codec, st); err != nil {
			t.Fatal(err)
		}
		if err := sameRecords(collect(t, &b), recs); err != nil {
			t.Fatalf("EachRecord: %v", err)
		}
	})
}

func FuzzDecompress(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x04\x02\x04hi"))
	f.Add([]byte("\xff\x06\x00\x00sNaPpY\x01\x07\x00\x00\x00\x00\x00\x00abc"))
	f.Add([]byte("\x04\x0cabcd"))
	for _, c := range allCodecs[1:] {
		comp, _ := batch.NewCompressor(c.codec, batch.DefaultLevel)
		z, _ := comp.Compress(nil, bytes.Repeat([]byte("fuzz me "), 40))
		f.Add(z)
		f.Add(z[:len(z)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range allCodecs {
			out, err := batch.Decompress(c.codec, []byte("x"), data)
			if err != nil {
				if !errors.Is(err, batch.ErrCorrupt) {
					t.Fatalf("%s: error %v does not wrap ErrCorrupt", c.codec, err)
				}
				if string(out) != "x" {
					t.Fatalf("%s: dst changed on error", c.codec)
				}
				continue
			}
			if len(out)-1 > batch.MaxDecompressedSize || out[0] != 'x' {
				t.Fatalf("%s: %d bytes out, prefix lost or over the bound", c.codec, len(out))
			}
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, byte(0), byte(0))
	f.Add([]byte("a"), byte(1), byte(1))
	f.Add(bytes.Repeat([]byte("round trip "), 400), byte(2), byte(0))
	f.Add(bytes.Repeat([]byte{0}, 5000), byte(3), byte(3))
	f.Add([]byte("\x00\x01\x02\x03\xff\xfe\xfd"), byte(4), byte(2))
	f.Fuzz(func(t *testing.T, data []byte, c, l byte) {
		if len(data) > 64<<10 {
			t.Skip("inputs past 64 KiB only slow the fuzzer down")
		}
		codec, level := codecLevel(c, l)
		comp, err := batch.NewCompressor(codec, level)
		if err != nil {
			t.Fatal(err)
		}
		z, err := comp.Compress([]byte("pre"), data)
		if err != nil {
			t.Fatal(err)
		}
		out, err := batch.Decompress(codec, nil, z[3:])
		if err != nil {
			t.Fatalf("%s/%d: %v", codec, level, err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("%s/%d: round trip differs", codec, level)
		}
		ref, err := refDecompress(codec, z[3:])
		if err != nil || !bytes.Equal(ref, data) {
			t.Fatalf("%s/%d: library reads back something else: %v", codec, level, err)
		}
	})
}
