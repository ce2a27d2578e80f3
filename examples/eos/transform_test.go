package main

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func TestAppendUpper(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii", "record-000123", "RECORD-000123"},
		{"already upper", "ABC-9", "ABC-9"},
		{"latin", "crème brûlée", "CRÈME BRÛLÉE"},
		{"greek", "αβγ", "ΑΒΓ"},
		{"title-case digraph", "ǆ", "Ǆ"},
		{"invalid byte kept", "a\xffb", "A\xffB"},
		{"truncated rune kept", "x\xe2\x82", "X\xe2\x82"},
		{"invalid between runes", "é\x80é", "É\x80É"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := appendUpper(nil, []byte(tc.in)); string(got) != tc.want {
				t.Fatalf("appendUpper(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := appendUpper([]byte("prefix:"), []byte(tc.in)); string(got) != "prefix:"+tc.want {
				t.Fatalf("appendUpper kept no prefix: %q", got)
			}
		})
	}
}

// FuzzAppendUpper checks appendUpper against bytes.ToUpper on valid UTF-8,
// and on any input that it keeps dst's prefix and never panics.
func FuzzAppendUpper(f *testing.F) {
	for _, s := range []string{"", "record-000001", "Ünïcödé", "\xff\xfe", "ǅǈǋ", "ﬀ", "İı"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got := appendUpper([]byte("p"), src)
		if len(got) == 0 || got[0] != 'p' {
			t.Fatalf("prefix lost: %q", got)
		}
		got = got[1:]
		if utf8.Valid(src) {
			if want := bytes.ToUpper(src); !bytes.Equal(got, want) {
				t.Fatalf("appendUpper(%q) = %q, bytes.ToUpper = %q", src, got, want)
			}
		}
		if utf8.Valid(got) != utf8.Valid(src) {
			t.Fatalf("validity changed: %q -> %q", src, got)
		}
	})
}

// BenchmarkAppendUpper transforms a record value into a reused buffer, as
// the pipeline does for every record: no allocation.
func BenchmarkAppendUpper(b *testing.B) {
	src := []byte("record-000123 with some lower-case text and a café")
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		buf = appendUpper(buf[:0], src)
	}
}
