package main

import (
	"unicode"
	"unicode/utf8"
)

// appendUpper appends src with every letter upper-cased to dst and returns
// the extended slice. It matches bytes.ToUpper on valid UTF-8, but keeps
// bytes that are not valid UTF-8 as they are rather than replacing them, so
// no input is lost. With a dst of enough capacity it does not allocate,
// which lets the pipeline transform every record into one reused buffer.
func appendUpper(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, c)
			i++
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToUpper(r))
		i += n
	}
	return dst
}
