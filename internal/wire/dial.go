package wire

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Dial connects to the broker at addr (host:port): TCP, the TLS handshake
// when cfg.TLS is set, ApiVersions to negotiate versions, then SASL when
// cfg.SASL is set. All of it is bounded by ctx and cfg.DialTimeout.
//
// Errors wrap their cause so errors.Is works: ErrInvalidAddress,
// ErrInvalidConfig, ErrTLS, ErrSASL, ErrUnsupportedVersion, network errors,
// kerr errors, and the ctx error when the dial ran out of time.
func Dial(ctx context.Context, addr string, cfg *Config) (*Conn, error) {
	set, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	return dial(ctx, -1, addr, set, nil)
}

// pastDeadline aborts blocked socket calls when set as a deadline.
var pastDeadline = time.Unix(1, 0)

// dial connects to node's address; node is -1 for a connection outside a pool.
func dial(ctx context.Context, node int32, addr string, set *settings, onDead func(*Conn)) (*Conn, error) {
	host, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, set.dialTimeout)
	defer cancel()

	nc, err := set.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, withCtx(ctx, fmt.Errorf("wire: dial %s: %w", addr, err))
	}
	// Every step below blocks on the socket: bound them by ctx.
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(pastDeadline) })

	c := newConn(node, addr, set, nc)
	err = c.handshake(ctx, host)
	if !stop() && err == nil {
		err = fmt.Errorf("wire: dial %s: %w", addr, ctx.Err())
	}
	if err != nil {
		_ = c.nc.Close()
		return nil, withCtx(ctx, err)
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.onDead = onDead
	set.log.Debug("wire: connected", "addr", addr)
	go c.readLoop()
	return c, nil
}

// withCtx adds ctx's error to err when ctx ended, so that a dial cut short
// by its deadline matches context.DeadlineExceeded and not only the socket
// timeout it caused. The socket deadline equals ctx's and may fire first.
func withCtx(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil && isTimeout(err) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}

// splitAddr checks that addr is host:port with a numeric port and returns
// the host.
func splitAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrInvalidAddress, addr, err)
	}
	if host == "" {
		return "", fmt.Errorf("%w %q: empty host", ErrInvalidAddress, addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("%w %q: port must be 1-65535", ErrInvalidAddress, addr)
	}
	return host, nil
}

// handshake runs TLS, ApiVersions and SASL on a fresh socket.
func (c *Conn) handshake(ctx context.Context, host string) error {
	if c.set.tls != nil {
		tc := c.set.tls.Clone()
		if tc.ServerName == "" {
			tc.ServerName = host
		}
		tconn := tls.Client(c.nc, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrTLS, c.addr, err)
		}
		c.nc = tconn
	}
	c.br = bufio.NewReaderSize(c.nc, 32<<10)
	if err := c.negotiateVersions(); err != nil {
		return err
	}
	if c.set.sasl != nil {
		if err := c.authenticate(ctx); err != nil {
			return err
		}
	}
	return nil
}

// negotiateVersions asks the broker which versions it supports, starting
// at the highest ApiVersions version we know. A broker that does not know
// that version answers UNSUPPORTED_VERSION in a v0 response that names
// the version to retry with (Kafka 2.4+) or nothing (older: retry at v0).
func (c *Conn) negotiateVersions() error {
	version := kmsgMaxVersions()[kmsg.ApiVersions]
	if caps := c.set.caps; caps != nil {
		version = max(min(version, caps[kmsg.ApiVersions]), 0)
	}
	for {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = version
		req.ClientSoftwareName = c.set.softwareName
		req.ClientSoftwareVersion = c.set.softwareVersion
		frame, err := c.roundTrip(req)
		if errors.Is(err, io.EOF) && c.set.tls == nil {
			return fmt.Errorf("wire: dial %s: ApiVersions: broker hung up (does the listener require TLS?): %w", c.addr, err)
		}
		if err != nil {
			return fmt.Errorf("wire: dial %s: ApiVersions: %w", c.addr, err)
		}
		vt, features, retry, err := parseApiVersions(frame[4:], version, c.set.caps)
		if err != nil {
			return fmt.Errorf("wire: dial %s: ApiVersions v%d: %w", c.addr, version, err)
		}
		if vt == nil {
			version = retry
			continue
		}
		c.versions, c.features = vt, features
		return nil
	}
}

// parseApiVersions reads an ApiVersions response body to a request of the
// given version. It returns the negotiated table and finalized features,
// or (nil, nil, retry, nil) when the broker asks for a retry at a lower
// version.
func parseApiVersions(body []byte, version int16, caps *[kmsg.MaxKey + 1]int16) (*versionTable, map[string]int16, int16, error) {
	if len(body) >= 2 && int16(binary.BigEndian.Uint16(body)) == kerr.UnsupportedVersion.Code {
		retry, err := retryVersion(body, version)
		return nil, nil, retry, err
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	if err := resp.ReadFrom(body); err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, nil, 0, err
	}
	if len(resp.ApiKeys) == 0 {
		return nil, nil, 0, fmt.Errorf("%w: no keys listed", ErrMalformedResponse)
	}
	var features map[string]int16
	if resp.FinalizedFeaturesEpoch >= 0 && len(resp.FinalizedFeatures) > 0 {
		features = make(map[string]int16, len(resp.FinalizedFeatures))
		for _, f := range resp.FinalizedFeatures {
			features[f.Name] = f.MaxVersionLevel
		}
	}
	return negotiate(resp, caps), features, 0, nil
}

// retryVersion reads a v0 UNSUPPORTED_VERSION ApiVersions body and returns
// the version to retry with, always below tried so the loop ends.
func retryVersion(body []byte, tried int16) (int16, error) {
	if tried == 0 {
		return 0, fmt.Errorf("%w: broker rejects ApiVersions v0", ErrUnsupportedVersion)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body); err != nil {
		return 0, nil // nothing usable: fall back to v0
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == kmsg.ApiVersions.Int16() && k.MaxVersion >= 0 && k.MaxVersion < tried {
			return k.MaxVersion, nil
		}
	}
	return 0, nil
}

// roundTrip writes req at its set version and reads its response frame.
// It is only used while dialing, before the reader goroutine starts.
func (c *Conn) roundTrip(req kmsg.Request) ([]byte, error) {
	c.corr++
	bp := getFrame()
	*bp = appendFrame(c.set.formatter, (*bp)[:0], req, c.corr)
	_, err := c.nc.Write(*bp)
	putFrame(bp)
	if err != nil {
		return nil, err
	}
	frame, err := c.fr.next(c.br, c.set.maxResponse)
	if err != nil {
		return nil, err
	}
	if got := frameCorrelation(frame); got != c.corr {
		return nil, fmt.Errorf("%w: correlation id %d, expected %d", ErrMalformedResponse, got, c.corr)
	}
	return frame, nil
}

// request is roundTrip plus parsing.
func (c *Conn) request(req kmsg.Request) (kmsg.Response, error) {
	frame, err := c.roundTrip(req)
	if err != nil {
		return nil, err
	}
	return parseResponse(req, nil, frame)
}
