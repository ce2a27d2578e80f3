package interop

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// envelope is the JSON object kcat prints per record with -J.
type envelope struct {
	Topic     *string     `json:"topic"`
	Partition *int32      `json:"partition"`
	Offset    *int64      `json:"offset"`
	TSType    string      `json:"tstype"`
	TS        int64       `json:"ts"`
	Broker    int32       `json:"broker"`
	Headers   []jsonBytes `json:"headers"`
	Key       jsonBytes   `json:"key"`
	Payload   jsonBytes   `json:"payload"`
}

// jsonBytes is a JSON string decoded to its exact bytes (kcat writes bytes
// that are not UTF-8 as they are, which encoding/json would replace), or
// nil for a JSON null.
type jsonBytes struct {
	b    []byte
	null bool
}

// UnmarshalJSON decodes a JSON string or null without touching bytes that
// are not valid UTF-8.
func (j *jsonBytes) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		j.b, j.null = nil, true
		return nil
	}
	b, err := unquote(raw)
	if err != nil {
		return err
	}
	j.b, j.null = b, false
	return nil
}

// bytes is the decoded value: nil for null, non-nil (maybe empty) otherwise.
func (j jsonBytes) bytes() []byte {
	if j.null {
		return nil
	}
	if j.b == nil {
		return []byte{}
	}
	return j.b
}

// ParseLine decodes one line of `kcat -J` output. Keys, values and header
// values come back byte for byte, nil when kcat printed null. Lines that are
// not such an envelope fail with an error wrapping ErrMalformed.
func ParseLine(line []byte) (Message, error) {
	var e envelope
	// Absent key or payload fields must read as null, not as empty.
	e.Key.null, e.Payload.null = true, true
	if err := json.Unmarshal(line, &e); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if e.Topic == nil || e.Partition == nil || e.Offset == nil {
		return Message{}, fmt.Errorf("%w: topic, partition or offset missing", ErrMalformed)
	}
	if len(e.Headers)%2 != 0 {
		return Message{}, fmt.Errorf("%w: %d header fields, want key/value pairs", ErrMalformed, len(e.Headers))
	}
	m := Message{
		Topic:         *e.Topic,
		Partition:     *e.Partition,
		Offset:        *e.Offset,
		TimestampType: e.TSType,
		Timestamp:     e.TS,
		Broker:        e.Broker,
		Key:           e.Key.bytes(),
		Value:         e.Payload.bytes(),
	}
	for i := 0; i < len(e.Headers); i += 2 {
		if e.Headers[i].null {
			return Message{}, fmt.Errorf("%w: header %d has a null key", ErrMalformed, i/2)
		}
		m.Headers = append(m.Headers, Header{Key: string(e.Headers[i].bytes()), Value: e.Headers[i+1].bytes()})
	}
	return m, nil
}

// unquote decodes a JSON string literal (quotes included) to bytes. Escapes
// are resolved; every other byte is copied as it is.
func unquote(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, fmt.Errorf("%w: not a JSON string", ErrMalformed)
	}
	s := raw[1 : len(raw)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, fmt.Errorf("%w: string ends in a backslash", ErrMalformed)
		}
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, err := unicodeEscape(s[i+1:])
			if err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
			i += n
		default:
			return nil, fmt.Errorf("%w: unknown escape \\%c", ErrMalformed, s[i])
		}
	}
	return out, nil
}

// unicodeEscape reads the hex digits after `\u` (and a following low
// surrogate escape when the first is a high surrogate). It returns the rune
// and how many bytes of s it used.
func unicodeEscape(s []byte) (rune, int, error) {
	r, ok := hex4(s)
	if !ok {
		return 0, 0, fmt.Errorf("%w: bad \\u escape", ErrMalformed)
	}
	if !utf16.IsSurrogate(r) {
		return r, 4, nil
	}
	if len(s) >= 10 && s[4] == '\\' && s[5] == 'u' {
		if lo, ok := hex4(s[6:]); ok {
			if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
				return pair, 10, nil
			}
		}
	}
	// A lone surrogate stands for no bytes at all: kcat never writes one.
	return 0, 0, fmt.Errorf("%w: lone surrogate \\u%04x", ErrMalformed, r)
}

// hex4 parses four hex digits.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
