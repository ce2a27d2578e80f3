package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzReadFrame feeds arbitrary bytes to the response frame reader: it
// must return a frame of exactly the announced size, at least a
// correlation id long and within the limit, or an error — never panic.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 1}, int32(1024))
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0}, int32(1024))
	f.Add([]byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28}, int32(1<<20))
	f.Add([]byte("HTTP/1.1 400 Bad Request"), int32(1<<20))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, int32(1024))
	f.Fuzz(func(t *testing.T, in []byte, maxSize int32) {
		if maxSize < 4 || maxSize > 1<<20 {
			maxSize = 1 << 20
		}
		var fr frameReader
		frame, err := fr.next(bytes.NewReader(in), maxSize)
		if err != nil {
			return
		}
		size := int32(binary.BigEndian.Uint32(in))
		if int32(len(frame)) != size || size < 4 || size > maxSize || !bytes.Equal(frame, in[4:4+size]) {
			t.Fatalf("frame of %d bytes for size prefix %d", len(frame), size)
		}
	})
}

// FuzzParseResponse parses arbitrary frames as responses to every request
// kind and version: errors are fine, panics are not, and a malformed
// header is reported as ErrMalformedResponse.
//
// Bodies of flexible versions only go through our header handling: kmsg's
// decoding of tagged fields loops once per announced tag even after the
// input ran out, so a corrupt tag count costs seconds of CPU (no panic),
// which makes the fuzzer report hangs that are not ours.
func FuzzParseResponse(f *testing.F) {
	meta := kmsg.NewPtrMetadataResponse()
	meta.Version = 12
	f.Add(int16(3), int16(12), respond(7, meta))
	prod := kmsg.NewPtrProduceResponse()
	prod.Version = 9
	f.Add(int16(0), int16(9), respond(1, prod))
	f.Add(int16(18), int16(3), respond(0, allVersions(3)))
	f.Add(int16(3), int16(12), []byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(int16(3), int16(12), []byte{0, 0, 0, 1, 2, 1, 200})
	f.Fuzz(func(t *testing.T, key, version int16, frame []byte) {
		if key < 0 || key > kmsg.MaxKey {
			return
		}
		req := kmsg.RequestForKey(key)
		if req == nil {
			return
		}
		if version < 0 || version > req.MaxVersion() {
			version = req.MaxVersion()
		}
		req.SetVersion(version)
		if req.IsFlexible() {
			body, err := responseBody(key, true, frame)
			if err != nil && !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error not wrapping ErrMalformedResponse: %v", err)
			}
			if err == nil && (len(frame) < 4 || len(body) > len(frame)-4) {
				t.Fatalf("body of %d bytes from a %d byte frame", len(body), len(frame))
			}
			return
		}
		resp, err := parseResponse(req, nil, frame)
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error not wrapping ErrMalformedResponse: %v", err)
			}
			return
		}
		if resp.Key() != key || resp.GetVersion() != version {
			t.Fatalf("response %d v%d for request %d v%d", resp.Key(), resp.GetVersion(), key, version)
		}
	})
}

// FuzzParseApiVersions reads arbitrary ApiVersions bodies: a retry must
// ask for a lower version, and a negotiated version never exceeds what
// kmsg or the cap allow, nor goes below what the broker accepts. Versions
// stop at 2, before tagged fields (see FuzzParseResponse).
func FuzzParseApiVersions(f *testing.F) {
	for _, v := range []int16{0, 1, 2} {
		f.Add(v, allVersions(v).AppendTo(nil), false)
	}
	unsupported := kmsg.NewPtrApiVersionsResponse()
	unsupported.ErrorCode = 35
	key := kmsg.NewApiVersionsResponseApiKey()
	key.ApiKey, key.MaxVersion = 18, 2
	unsupported.ApiKeys = append(unsupported.ApiKeys, key)
	f.Add(int16(2), unsupported.AppendTo(nil), false)
	f.Add(int16(2), []byte{0, 35}, true)
	f.Fuzz(func(t *testing.T, version int16, body []byte, capped bool) {
		if version < 0 || version > 2 {
			return
		}
		var caps *[kmsg.MaxKey + 1]int16
		if capped {
			caps = new([kmsg.MaxKey + 1]int16)
			for k := range caps {
				caps[k] = int16(k % 4)
			}
		}
		vt, _, retry, err := parseApiVersions(body, version, caps)
		if err != nil {
			return
		}
		if vt == nil {
			if retry < 0 || retry >= version {
				t.Fatalf("retry at v%d after v%d", retry, version)
			}
			return
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = version
		_ = resp.ReadFrom(body)
		last := make(map[int16]kmsg.ApiVersionsResponseApiKey)
		for _, k := range resp.ApiKeys {
			last[k.ApiKey] = k
		}
		for _, k := range last {
			v, ok := vt.lookup(k.ApiKey)
			if !ok {
				continue
			}
			if v > kmsgMaxVersions()[k.ApiKey] || caps != nil && v > caps[k.ApiKey] || v < k.MinVersion {
				t.Fatalf("key %d negotiated at v%d (broker %d-%d)", k.ApiKey, v, k.MinVersion, k.MaxVersion)
			}
		}
	})
}

// FuzzRequestFrame encodes requests built from arbitrary bytes and reads
// them back as a broker would: header fields and body must survive, and
// the stamped correlation id must be the one read.
func FuzzRequestFrame(f *testing.F) {
	f.Add(int16(3), int16(12), "client", int32(7), kmsg.NewPtrMetadataRequest().AppendTo(nil))
	f.Add(int16(0), int16(9), "", int32(-1), []byte{})
	f.Add(int16(18), int16(3), "kprod", int32(1<<30), []byte{6, 'k', 'p', 'r', 'o', 'd', 4, 'd', 'e', 'v', 0})
	f.Fuzz(func(t *testing.T, key, version int16, clientID string, corr int32, body []byte) {
		if key < 0 || key > kmsg.MaxKey || key == kmsg.ControlledShutdown.Int16() {
			return
		}
		req := kmsg.RequestForKey(key)
		if req == nil {
			return
		}
		if version < 0 || version > req.MaxVersion() {
			version = req.MaxVersion()
		}
		req.SetVersion(version)
		// Flexible versions are framed from default field values: kmsg's
		// decoding of arbitrary tagged fields can spin (see
		// FuzzParseResponse), and the body is not what is under test.
		if !req.IsFlexible() && req.ReadFrom(body) != nil {
			return
		}
		f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))
		frame := appendFrame(f, nil, req, 0)
		stampCorrelation(frame, corr)
		if got := binary.BigEndian.Uint32(frame); int(got) != len(frame)-4 {
			t.Fatalf("size prefix %d for a %d byte frame", got, len(frame))
		}
		r := kbin.Reader{Src: frame[4:]}
		gotKey, gotVersion, gotCorr := r.Int16(), r.Int16(), r.Int32()
		gotID := r.NullableString()
		if gotKey != key || gotVersion != version || gotCorr != corr || gotID == nil || *gotID != clientID {
			t.Fatalf("header %d v%d corr %d id %v", gotKey, gotVersion, gotCorr, gotID)
		}
		if req.IsFlexible() {
			kmsg.SkipTags(&r)
		}
		if !bytes.Equal(r.Src, req.AppendTo(nil)) {
			t.Fatal("body changed in framing")
		}
	})
}
