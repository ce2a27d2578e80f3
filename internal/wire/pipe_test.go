package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// pipeConn dials a fake broker.
func pipeConn(t *testing.T, f *fakeBroker, cfg *Config) (*Conn, error) {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	cfg.Dial = f.dialer(t)
	c, err := Dial(context.Background(), "broker:9092", cfg)
	if c != nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func TestRequestTimeoutExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		silent := &fakeBroker{handle: answering(func(kmsg.Request, int32) [][]byte { return nil })}
		c, err := pipeConn(t, silent, nil)
		if err != nil {
			t.Fatal(err)
		}
		var rec errRecorder
		c.Send(kmsg.NewPtrMetadataRequest(), 2*time.Second, rec.done)
		c.Send(kmsg.NewPtrMetadataRequest(), time.Second, rec.done) // the earlier deadline
		c.Send(kmsg.NewPtrMetadataRequest(), 0, rec.done)

		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if got := rec.get(); len(got) != 0 || c.InFlight() != 3 {
			t.Fatalf("before the deadline: %v, %d in flight", got, c.InFlight())
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		got := rec.get()
		if len(got) != 3 {
			t.Fatalf("after the deadline: %d done calls", len(got))
		}
		for i, err := range got {
			timedOut := errors.Is(err, ErrRequestTimeout)
			if timedOut != (i == 1) || !timedOut && !errors.Is(err, ErrClosed) {
				t.Fatalf("request %d: %v", i, err)
			}
		}
	})
}

func TestMalformedResponses(t *testing.T) {
	tests := []struct {
		name   string
		answer func(req kmsg.Request, corr int32) [][]byte
	}{
		{"wrong correlation id", func(req kmsg.Request, corr int32) [][]byte {
			return [][]byte{respond(corr+1, req.ResponseKind())}
		}},
		{"unsolicited response", func(req kmsg.Request, corr int32) [][]byte {
			return [][]byte{respond(corr, req.ResponseKind()), respond(corr+1, req.ResponseKind())}
		}},
		{"frame shorter than a correlation id", func(kmsg.Request, int32) [][]byte { return [][]byte{{1, 2}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, err := pipeConn(t, &fakeBroker{handle: answering(tt.answer)}, nil)
				if err != nil {
					t.Fatal(err)
				}
				c.Send(kmsg.NewPtrMetadataRequest(), 0, func(kmsg.Response, error) {})
				synctest.Wait()
				if !errors.Is(c.Err(), ErrMalformedResponse) {
					t.Fatalf("Err() = %v", c.Err())
				}
			})
		})
	}
}

func TestUnparsableBodyFailsOnlyThatRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		f := &fakeBroker{handle: answering(func(req kmsg.Request, corr int32) [][]byte {
			n++
			if n == 1 {
				return [][]byte{binary.BigEndian.AppendUint32(nil, uint32(corr))} // empty body
			}
			return [][]byte{respond(corr, req.ResponseKind())}
		})}
		c, err := pipeConn(t, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		var rec errRecorder
		for range 2 {
			c.Send(kmsg.NewPtrMetadataRequest(), 0, rec.done)
		}
		synctest.Wait()
		errs := rec.get()
		if len(errs) != 2 || !errors.Is(errs[0], ErrMalformedResponse) || errs[1] != nil || c.Err() != nil {
			t.Fatalf("errs %v, conn err %v", errs, c.Err())
		}
	})
}

func TestDialErrors(t *testing.T) {
	tests := []struct {
		name string
		f    *fakeBroker
		want error
		hint string // in the message
	}{
		{
			name: "ApiVersions error code",
			f: &fakeBroker{handle: func(req kmsg.Request, corr int32) [][]byte {
				resp := kmsg.NewPtrApiVersionsResponse()
				resp.Version = req.GetVersion()
				resp.ErrorCode = kerr.InvalidRequest.Code
				return [][]byte{respond(corr, resp)}
			}},
			want: kerr.InvalidRequest,
		},
		{
			name: "ApiVersions without keys",
			f: &fakeBroker{handle: func(req kmsg.Request, corr int32) [][]byte {
				resp := kmsg.NewPtrApiVersionsResponse()
				resp.Version = req.GetVersion()
				return [][]byte{respond(corr, resp)}
			}},
			want: ErrMalformedResponse,
		},
		{
			name: "v0 rejected",
			f: &fakeBroker{handle: func(req kmsg.Request, corr int32) [][]byte {
				resp := kmsg.NewPtrApiVersionsResponse()
				resp.ErrorCode = kerr.UnsupportedVersion.Code
				return [][]byte{respond(corr, resp)}
			}},
			want: ErrUnsupportedVersion,
		},
		{
			name: "TLS alert",
			f:    &fakeBroker{raw: []byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28}},
			want: ErrMalformedResponse,
			hint: "expects TLS",
		},
		{
			name: "HTTP server",
			f:    &fakeBroker{raw: []byte("HTTP/1.1 400 Bad Request\r\n\r\n")},
			want: ErrMalformedResponse,
			hint: "HTTP",
		},
		{
			name: "huge frame",
			f:    &fakeBroker{raw: []byte{0x7f, 0xff, 0xff, 0xff}},
			want: ErrMalformedResponse,
			hint: "limit",
		},
		{
			name: "hang up",
			f:    &fakeBroker{raw: []byte{}},
			want: io.EOF,
			hint: "TLS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, err := pipeConn(t, tt.f, nil)
				if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.hint) {
					t.Fatalf("dial: %v; want %v mentioning %q", err, tt.want, tt.hint)
				}
			})
		})
	}
}

func TestApiVersionsFallsBackToV0(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var asked []int16
		f := &fakeBroker{handle: func(req kmsg.Request, corr int32) [][]byte {
			asked = append(asked, req.GetVersion())
			if req.GetVersion() > 0 { // an old broker: no hint in the reply
				resp := kmsg.NewPtrApiVersionsResponse()
				resp.ErrorCode = kerr.UnsupportedVersion.Code
				return [][]byte{respond(corr, resp)}
			}
			return [][]byte{respond(corr, allVersions(0))}
		}}
		c, err := pipeConn(t, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(asked) != 2 || asked[1] != 0 {
			t.Fatalf("versions asked: %v", asked)
		}
		if _, ok := c.MaxVersion(kmsg.Produce.Int16()); !ok {
			t.Fatal("no Produce version after a v0 ApiVersions")
		}
	})
}

func TestRawSASLHandshakeV0(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var token []byte
		f := &fakeBroker{
			handle: answering(func(req kmsg.Request, corr int32) [][]byte {
				resp := req.ResponseKind()
				return [][]byte{respond(corr, resp)}
			}),
			onRaw: func(tok []byte) ([]byte, bool) {
				token = tok
				return []byte{}, true // PLAIN: an empty server token
			},
		}
		caps := kversion.Stable()
		caps.SetMaxKeyVersion(kmsg.SASLHandshake.Int16(), 0)
		cfg := &Config{SASL: plain.Auth{User: "u", Pass: "p"}.AsMechanism(), MaxVersions: caps}
		c, err := pipeConn(t, f, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if want := []byte("\x00u\x00p"); !bytes.Equal(token, want) {
			t.Fatalf("raw token %q; want %q", token, want)
		}
		if c.Err() != nil {
			t.Fatal(c.Err())
		}
	})
}

func TestThrottleIsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeBroker{handle: answering(func(req kmsg.Request, corr int32) [][]byte {
			resp := req.ResponseKind().(*kmsg.MetadataResponse)
			resp.ThrottleMillis = 250
			return [][]byte{respond(corr, resp)}
		})}
		c, err := pipeConn(t, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !c.ThrottledUntil().IsZero() {
			t.Fatal("throttled before any response")
		}
		if _, err := c.Request(context.Background(), kmsg.NewPtrMetadataRequest()); err != nil {
			t.Fatal(err)
		}
		if got := time.Until(c.ThrottledUntil()); got != 250*time.Millisecond {
			t.Fatalf("throttled for %v", got)
		}
	})
}

func TestFlexibleHeaderTagsSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeBroker{handle: answering(func(req kmsg.Request, corr int32) [][]byte {
			resp := req.ResponseKind().(*kmsg.MetadataResponse)
			resp.ClusterID = kmsg.StringPtr("tagged")
			out := binary.BigEndian.AppendUint32(nil, uint32(corr))
			out = append(out, 1, 7, 3, 'a', 'b', 'c') // one tag: key 7, 3 bytes
			return [][]byte{resp.AppendTo(out)}
		})}
		c, err := pipeConn(t, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Request(context.Background(), kmsg.NewPtrMetadataRequest())
		if err != nil {
			t.Fatal(err)
		}
		if id := resp.(*kmsg.MetadataResponse).ClusterID; id == nil || *id != "tagged" {
			t.Fatalf("cluster id %v", id)
		}
	})
}

// errRecorder collects the errors done callbacks receive.
type errRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *errRecorder) done(_ kmsg.Response, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *errRecorder) get() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}
