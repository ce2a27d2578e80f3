package batch_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/snappy"

	"github.com/kprod/kprod/internal/batch"
)

func TestEveryCodecDecodesWithKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	sets := map[string][]rec{
		"one":    {{ts: 42, key: []byte("k"), value: []byte("v")}},
		"random": randomRecords(rng, 400, 1_700_000_000_000),
		// Over 64 KiB of records: several snappy and lz4 blocks.
		"large": randomRecords(rng, 1500, 0),
	}
	st := stamp{set: true, pid: 31337, epoch: 4, seq: 123, txn: true}
	for _, c := range allCodecs {
		for _, level := range c.levels {
			for name, recs := range sets {
				t.Run(fmt.Sprintf("%s/%d/%s", c.codec, level, name), func(t *testing.T) {
					b := build(t, recs, c.codec, level, st)
					d, err := decode(b.Bytes())
					if err != nil {
						t.Fatal(err)
					}
					if err := d.check(recs, c.codec, st); err != nil {
						t.Fatal(err)
					}
					if c.codec == batch.Snappy && !bytes.HasPrefix(b.Bytes()[batch.Overhead:], []byte("\x82SNAPPY\x00")) {
						t.Fatal("snappy records section does not start with the xerial magic")
					}
				})
			}
		}
	}
}

func TestLZ4FrameLayout(t *testing.T) {
	b := build(t, randomRecords(rand.New(rand.NewPCG(1, 1)), 200, 0), batch.LZ4, batch.DefaultLevel, stamp{})
	frame := b.Bytes()[batch.Overhead:]
	if got := binary.LittleEndian.Uint32(frame); got != 0x184D2204 {
		t.Fatalf("lz4 magic %#x", got)
	}
	flg, bd := frame[4], frame[5]
	// Version 1, independent blocks, no block or content checksum, no
	// content size; 64 KiB blocks: what the Java producer writes.
	if flg != 0x60 || bd != 0x40 {
		t.Fatalf("lz4 FLG %#x BD %#x, want 0x60 0x40", flg, bd)
	}
}

func TestDecompressReadsLibrarySnappy(t *testing.T) {
	data := []byte(strings.Repeat("snappy framing and raw blocks; ", 5000))
	raw := snappy.Encode(nil, data)
	var framed bytes.Buffer
	w := snappy.NewBufferedWriter(&framed)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(framed.Bytes(), []byte("\xff\x06\x00\x00sNaPpY")) {
		t.Fatal("library framing output has no stream identifier")
	}
	for name, in := range map[string][]byte{"raw block": raw, "framed": framed.Bytes()} {
		t.Run(name, func(t *testing.T) {
			out, err := batch.Decompress(batch.Snappy, []byte("prefix"), in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, append([]byte("prefix"), data...)) {
				t.Fatal("decompressed data differs")
			}
		})
	}
}

func TestDecompressFramedSnappyChecks(t *testing.T) {
	var framed bytes.Buffer
	w := snappy.NewBufferedWriter(&framed)
	w.Write([]byte(strings.Repeat("checksummed ", 100)))
	w.Close()
	good := framed.Bytes()

	badCRC := bytes.Clone(good)
	badCRC[len(framedHeader)+4] ^= 0xff // first byte of the first chunk's checksum
	reserved := append(bytes.Clone(good), 0x02, 0, 0, 0)
	skippable := append(bytes.Clone(good), 0xfe, 3, 0, 0, 1, 2, 3)
	truncated := good[:len(good)-1]
	uncompressed := append([]byte(framedHeader), 0x01, 7, 0, 0)
	uncompressed = binary.LittleEndian.AppendUint32(uncompressed, maskedCRC([]byte("abc")))
	uncompressed = append(uncompressed, "abc"...)

	for _, tc := range []struct {
		name string
		in   []byte
		want string // "" means success
	}{
		{"good", good, ""},
		{"skippable chunk", skippable, ""},
		{"uncompressed chunk", uncompressed, ""},
		{"bad checksum", badCRC, "checksum"},
		{"reserved chunk", reserved, "reserved"},
		{"truncated", truncated, "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := batch.Decompress(batch.Snappy, nil, tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (!errors.Is(err, batch.ErrCorrupt) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want ErrCorrupt mentioning %q", err, tc.want)
			}
		})
	}
}

const framedHeader = "\xff\x06\x00\x00sNaPpY"

// maskedCRC is the snappy framing checksum, computed independently.
func maskedCRC(p []byte) uint32 {
	c := crc32Castagnoli(p)
	return (c>>15 | c<<17) + 0xa282ead8
}

func crc32Castagnoli(p []byte) uint32 {
	var c = ^uint32(0)
	for _, b := range p {
		c ^= uint32(b)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82f63b78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

func TestCRC32C(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 7, 61, 1000, 70000} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if got, want := batch.CRC32C(p), crc32Castagnoli(p); got != want {
			t.Fatalf("CRC32C of %d bytes: %#x, want %#x", n, got, want)
		}
	}
	if got := batch.CRC32C([]byte("123456789")); got != 0xe3069283 {
		t.Fatalf("CRC32C check value %#x, want 0xe3069283", got)
	}
}

func TestCompressRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty":  {},
		"byte":   {7},
		"text":   []byte(strings.Repeat("the quick brown fox ", 20000)),
		"random": randomBytes(200_000),
	}
	for _, c := range allCodecs {
		for _, level := range c.levels {
			comp, err := batch.NewCompressor(c.codec, level)
			if err != nil {
				t.Fatal(err)
			}
			for name, in := range inputs {
				t.Run(fmt.Sprintf("%s/%d/%s", c.codec, level, name), func(t *testing.T) {
					z, err := comp.Compress([]byte("head"), in)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.HasPrefix(z, []byte("head")) {
						t.Fatal("Compress did not append to dst")
					}
					out, err := batch.Decompress(c.codec, []byte("pre"), z[4:])
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(out, append([]byte("pre"), in...)) {
						t.Fatal("round trip differs")
					}
					ref, err := refDecompress(c.codec, z[4:])
					if err != nil {
						t.Fatalf("library cannot read our output: %v", err)
					}
					if !bytes.Equal(ref, in) {
						t.Fatal("library reads different data")
					}
				})
			}
		}
	}
}

func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

func TestCompressorConcurrent(t *testing.T) {
	in := []byte(strings.Repeat("concurrent compression ", 3000))
	var wg sync.WaitGroup
	for _, c := range allCodecs {
		comp, _ := batch.NewCompressor(c.codec, c.levels[len(c.levels)-1])
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					z, err := comp.Compress(nil, in)
					if err != nil {
						t.Error(err)
						return
					}
					out, err := batch.Decompress(c.codec, nil, z)
					if err != nil || !bytes.Equal(out, in) {
						t.Errorf("%s: round trip failed: %v", c.codec, err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
}

func TestDecompressRejectsCorrupt(t *testing.T) {
	text := []byte(strings.Repeat("corruption ", 2000))
	for _, c := range allCodecs[1:] {
		comp, _ := batch.NewCompressor(c.codec, batch.DefaultLevel)
		z, _ := comp.Compress(nil, text)
		cases := map[string][]byte{
			"empty":     {},
			"truncated": z[:len(z)/2],
			"garbage":   []byte("this is not compressed data at all"),
		}
		if c.codec != batch.Snappy && c.codec != batch.LZ4 {
			// lz4 frames written like Java's carry no checksum; snappy
			// xerial blocks neither: a flipped byte may decode.
			flipped := bytes.Clone(z)
			flipped[len(flipped)-2] ^= 0x55
			cases["flipped"] = flipped
		}
		for name, in := range cases {
			t.Run(c.codec.String()+"/"+name, func(t *testing.T) {
				out, err := batch.Decompress(c.codec, []byte("keep"), in)
				if !errors.Is(err, batch.ErrCorrupt) {
					t.Fatalf("error %v, want ErrCorrupt", err)
				}
				if string(out) != "keep" {
					t.Fatalf("dst changed on error: %q", out)
				}
			})
		}
	}
	if _, err := batch.Decompress(batch.Codec(9), nil, []byte{1}); !errors.Is(err, batch.ErrUnknownCodec) {
		t.Fatalf("unknown codec: %v", err)
	}
}

func TestDecompressIsBounded(t *testing.T) {
	over := batch.MaxDecompressedSize + 1

	// A raw snappy block whose header claims too much is refused before
	// any work.
	rawSnappy := binary.AppendUvarint(nil, uint64(over))
	rawSnappy = append(rawSnappy, 0)
	cases := map[string][]byte{"snappy/claimed size": rawSnappy}
	if !testing.Short() && !raceEnabled { // hundreds of MiB of work: too slow under -race
		// Concatenated streams of 1 MiB of zeros each, one more than the
		// limit allows: every reader must stop at the limit.
		zeros := make([]byte, 1<<20)
		for _, c := range allCodecs[1:] {
			comp, _ := batch.NewCompressor(c.codec, batch.DefaultLevel)
			z, err := comp.Compress(nil, zeros)
			if err != nil {
				t.Fatal(err)
			}
			cases[c.codec.String()+"/concatenated"] = bytes.Repeat(z, over>>20+1)
		}
	}
	for name, in := range cases {
		codec, _ := batch.ParseCodec(name[:strings.IndexByte(name, '/')])
		out, err := batch.Decompress(codec, nil, in)
		if !errors.Is(err, batch.ErrCorrupt) || out != nil {
			t.Errorf("%s: error %v, output %d bytes; want ErrCorrupt and nothing", name, err, len(out))
		}
	}
}
