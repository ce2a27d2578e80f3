package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeBroker is a scripted broker on one end of a net.Pipe, for tests that
// need exact control over the bytes a broker sends (and, inside a synctest
// bubble, over time).
type fakeBroker struct {
	// handle answers one request: it returns the frames to write (each
	// without its size prefix; see respond). The default answers
	// ApiVersions with every key kmsg knows and nothing else.
	handle func(req kmsg.Request, corr int32) [][]byte
	// onRaw, when set, reads raw SASL tokens after a v0 handshake.
	onRaw   func(token []byte) (reply []byte, ok bool)
	rawMode bool
	// raw, when non-nil, is written verbatim in answer to the first
	// request, after which the broker hangs up.
	raw []byte
}

// dialer returns a Config.Dial that connects to a fresh serving goroutine.
func (f *fakeBroker) dialer(t testing.TB) func(context.Context, string, string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go f.serve(server)
		t.Cleanup(func() { _ = server.Close() })
		return client, nil
	}
}

func (f *fakeBroker) serve(nc net.Conn) {
	defer nc.Close()
	var size [4]byte
	for {
		if _, err := io.ReadFull(nc, size[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(nc, body); err != nil {
			return
		}
		if f.raw != nil {
			_, _ = nc.Write(f.raw)
			return
		}
		if f.rawMode {
			reply, ok := f.onRaw(body)
			if !ok {
				return
			}
			if reply != nil {
				if _, err := nc.Write(binary.BigEndian.AppendUint32(nil, uint32(len(reply)))); err != nil {
					return
				}
				if _, err := nc.Write(reply); err != nil {
					return
				}
			}
			continue
		}
		req, corr, err := parseRequest(body)
		if err != nil {
			return
		}
		if h, ok := req.(*kmsg.SASLHandshakeRequest); ok && h.Version == 0 && f.onRaw != nil {
			f.rawMode = true
		}
		handle := f.handle
		if handle == nil {
			handle = func(req kmsg.Request, corr int32) [][]byte { return defaultAnswer(req, corr) }
		}
		for _, frame := range handle(req, corr) {
			out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
			if _, err := nc.Write(append(out, frame...)); err != nil {
				return
			}
		}
	}
}

// parseRequest decodes a request frame (without size) as a broker would.
func parseRequest(body []byte) (kmsg.Request, int32, error) {
	r := kbin.Reader{Src: body}
	key, version, corr := r.Int16(), r.Int16(), r.Int32()
	r.NullableString()
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, 0, errors.New("unknown key")
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	if err := r.Complete(); err != nil {
		return nil, 0, err
	}
	return req, corr, req.ReadFrom(r.Src)
}

// respond encodes resp as a response frame (without size) to corr.
func respond(corr int32, resp kmsg.Response) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(corr))
	if resp.IsFlexible() && resp.Key() != kmsg.ApiVersions.Int16() {
		out = append(out, 0)
	}
	return resp.AppendTo(out)
}

// allVersions is an ApiVersions response listing every key kmsg knows.
func allVersions(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	for k, v := range kmsgMaxVersions() {
		if v < 0 {
			continue
		}
		key := kmsg.NewApiVersionsResponseApiKey()
		key.ApiKey, key.MaxVersion = int16(k), v
		resp.ApiKeys = append(resp.ApiKeys, key)
	}
	return resp
}

func defaultAnswer(req kmsg.Request, corr int32) [][]byte {
	if req.Key() == kmsg.ApiVersions.Int16() {
		return [][]byte{respond(corr, allVersions(req.GetVersion()))}
	}
	return nil
}

// answering returns a handler that answers ApiVersions by default and
// everything else with fn.
func answering(fn func(req kmsg.Request, corr int32) [][]byte) func(kmsg.Request, int32) [][]byte {
	return func(req kmsg.Request, corr int32) [][]byte {
		if req.Key() == kmsg.ApiVersions.Int16() {
			return defaultAnswer(req, corr)
		}
		return fn(req, corr)
	}
}
