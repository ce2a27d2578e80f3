package batch_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kprod/kprod/internal/batch"
)

func TestParseCodec(t *testing.T) {
	for _, tc := range []struct {
		name string
		want batch.Codec
		err  error
	}{
		{"none", batch.None, nil},
		{"gzip", batch.Gzip, nil},
		{"Snappy", batch.Snappy, nil},
		{"LZ4", batch.LZ4, nil},
		{"zstd", batch.Zstd, nil},
		{"", 0, batch.ErrUnknownCodec},
		{"zstd ", 0, batch.ErrUnknownCodec},
		{"producer", 0, batch.ErrUnknownCodec},
	} {
		got, err := batch.ParseCodec(tc.name)
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("ParseCodec(%q) = %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.err)
		}
		if err == nil {
			if back, _ := batch.ParseCodec(got.String()); back != got {
				t.Errorf("%v does not round-trip through String", got)
			}
		}
	}
	if s := batch.Codec(7).String(); s != "codec(7)" {
		t.Errorf("unknown codec String %q", s)
	}
}

func TestCheckLevel(t *testing.T) {
	for _, tc := range []struct {
		codec batch.Codec
		level int
		err   error
	}{
		{batch.None, batch.DefaultLevel, nil},
		{batch.None, 1, batch.ErrInvalidLevel},
		{batch.Snappy, batch.DefaultLevel, nil},
		{batch.Snappy, 0, batch.ErrInvalidLevel},
		{batch.Gzip, batch.DefaultLevel, nil},
		{batch.Gzip, -1, nil},
		{batch.Gzip, 1, nil},
		{batch.Gzip, 9, nil},
		{batch.Gzip, 0, batch.ErrInvalidLevel},
		{batch.Gzip, 10, batch.ErrInvalidLevel},
		{batch.Gzip, -2, batch.ErrInvalidLevel},
		{batch.LZ4, batch.DefaultLevel, nil},
		{batch.LZ4, 1, nil},
		{batch.LZ4, 17, nil},
		{batch.LZ4, 0, batch.ErrInvalidLevel},
		{batch.LZ4, 18, batch.ErrInvalidLevel},
		{batch.Zstd, batch.DefaultLevel, nil},
		{batch.Zstd, -131072, nil},
		{batch.Zstd, 22, nil},
		{batch.Zstd, 0, nil},
		{batch.Zstd, 23, batch.ErrInvalidLevel},
		{batch.Zstd, -131073, batch.ErrInvalidLevel},
		{batch.Codec(5), batch.DefaultLevel, batch.ErrUnknownCodec},
		{batch.Codec(-1), 1, batch.ErrUnknownCodec},
	} {
		err := tc.codec.CheckLevel(tc.level)
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%v.CheckLevel(%d) = %v, want %v", tc.codec, tc.level, err, tc.err)
		}
		comp, nerr := batch.NewCompressor(tc.codec, tc.level)
		if (nerr == nil) != (err == nil) || !errors.Is(nerr, tc.err) {
			t.Errorf("NewCompressor(%v, %d) error %v, CheckLevel said %v", tc.codec, tc.level, nerr, err)
		}
		if nerr == nil && (comp.Codec() != tc.codec || comp.Level() != tc.level) {
			t.Errorf("NewCompressor(%v, %d) made %v at %d", tc.codec, tc.level, comp.Codec(), comp.Level())
		}
	}
}

func TestNilCompressorIsNone(t *testing.T) {
	var comp *batch.Compressor
	if comp.Codec() != batch.None || comp.Level() != batch.DefaultLevel {
		t.Fatal("nil Compressor is not codec none")
	}
	out, err := comp.Compress([]byte("a"), []byte("b"))
	if err != nil || string(out) != "ab" {
		t.Fatalf("nil Compressor: %q, %v", out, err)
	}
	var zero batch.Compressor
	if out, err := zero.Compress(nil, []byte("b")); err != nil || string(out) != "b" {
		t.Fatalf("zero Compressor: %q, %v", out, err)
	}
}

// TestLevelsChangeOutput checks that levels reach the codec: the highest
// level compresses text no worse than the lowest, and the lz4 default is
// the fast compressor, not the high-compression one.
func TestLevelsChangeOutput(t *testing.T) {
	text := bytes.Repeat([]byte(`{"id":123,"name":"a record with fields","tags":["x","y"],"n":`), 2000)
	for i := range text {
		if i%97 == 0 {
			text[i] = byte('0' + i%10)
		}
	}
	size := func(c batch.Codec, level int) int {
		comp, err := batch.NewCompressor(c, level)
		if err != nil {
			t.Fatal(err)
		}
		z, err := comp.Compress(nil, text)
		if err != nil {
			t.Fatal(err)
		}
		return len(z)
	}
	for _, tc := range []struct {
		codec     batch.Codec
		low, high int
	}{
		{batch.Gzip, 1, 9},
		{batch.LZ4, 1, 17},
		{batch.Zstd, 1, 19},
	} {
		if lo, hi := size(tc.codec, tc.low), size(tc.codec, tc.high); hi > lo {
			t.Errorf("%v: level %d gives %d bytes, level %d gives %d", tc.codec, tc.high, hi, tc.low, lo)
		}
	}
	if def, nine, hc := size(batch.LZ4, batch.DefaultLevel), size(batch.LZ4, 9), size(batch.LZ4, 17); def != nine || hc >= def {
		t.Errorf("lz4 default %d bytes, level 9 %d, level 17 %d: want default == 9 (fast) > 17 (high compression)", def, nine, hc)
	}
}
