package kafkatest

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASLFront is a SASL-checking front for brokers that cannot check
// OAUTHBEARER or AWS_MSK_IAM themselves (kfake knows only PLAIN and SCRAM):
// one loopback listener per backend broker, which answers SaslHandshake and
// SaslAuthenticate itself, checks the exchange, and then pipes the
// connection to its broker. Metadata and FindCoordinator answers are
// rewritten to name the front's listeners, so clients keep coming through
// it. Like a Kafka broker it refuses every other request before
// authentication, gives each session a lifetime (KIP-368), and closes a
// connection whose session has ended when it sends anything but a new
// authentication.
type SASLFront struct {
	cfg       SASLFrontConfig
	lns       []net.Listener
	addrs     []string          // front listeners, in backend order
	toFront   map[string]string // backend host:port -> front host:port
	toBackend map[string]string // front host:port -> backend host:port

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	auths    map[string]int // successful authentications per token or access key
	order    []string       // tokens and access keys in the order first seen
	failures []string       // why each refused authentication was refused
	expired  int            // connections closed because their session ended
	closed   bool
	wg       sync.WaitGroup
}

// SASLFrontConfig says what a SASLFront accepts. A nil checker turns its
// mechanism off.
type SASLFrontConfig struct {
	// OAuth checks an OAUTHBEARER token and its extensions and returns when
	// the token expires; an error refuses it.
	OAuth func(token string, extensions map[string]string) (expiry time.Time, err error)
	// AWSSecret returns the secret access key of an AWS access key id for
	// AWS_MSK_IAM, false for an unknown one.
	AWSSecret func(accessKeyID string) (secret string, ok bool)
	// AWSRegion is the region signatures must name; "" accepts any.
	AWSRegion string
	// AWSMaxSkew is how far a signature's date may be from now (default 5
	// minutes, as AWS allows).
	AWSMaxSkew time.Duration
	// MaxSessionLifetime caps every session, as a broker's
	// connections.max.reauth.ms does; 0 leaves OAUTHBEARER sessions bounded
	// by their token's expiry alone and AWS_MSK_IAM sessions unbounded.
	MaxSessionLifetime time.Duration
}

// NewSASLFront starts a front for the brokers at backends, closed with the
// test.
func NewSASLFront(t testing.TB, backends []string, cfg SASLFrontConfig) *SASLFront {
	t.Helper()
	f, err := LaunchSASLFront(backends, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// LaunchSASLFront is NewSASLFront without a test; the caller closes it.
func LaunchSASLFront(backends []string, cfg SASLFrontConfig) (*SASLFront, error) {
	if cfg.AWSMaxSkew <= 0 {
		cfg.AWSMaxSkew = 5 * time.Minute
	}
	f := &SASLFront{cfg: cfg, toFront: map[string]string{}, toBackend: map[string]string{},
		conns: map[net.Conn]struct{}{}, auths: map[string]int{}}
	for _, b := range backends {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.Close()
			return nil, err
		}
		f.lns = append(f.lns, ln)
		a := ln.Addr().String()
		f.addrs = append(f.addrs, a)
		f.toFront[b], f.toBackend[a] = a, b
	}
	for _, ln := range f.lns {
		f.wg.Add(1)
		go f.accept(ln)
	}
	return f, nil
}

// Addrs are the front's listeners, one per backend broker, for bootstrap.
func (f *SASLFront) Addrs() []string { return append([]string(nil), f.addrs...) }

// Auths is how many authentications succeeded with token (an OAUTHBEARER
// token, or an AWS access key id).
func (f *SASLFront) Auths(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auths[token]
}

// Tokens are the tokens (or access key ids) that authenticated, in the
// order first seen.
func (f *SASLFront) Tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// Failures are the reasons of the refused authentications, in order.
func (f *SASLFront) Failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.failures...)
}

// Expired is how many connections the front closed because they sent a
// request after their session ended.
func (f *SASLFront) Expired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expired
}

// Close stops the listeners, closes every connection and waits for the
// front's goroutines. It may be called more than once.
func (f *SASLFront) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	for _, ln := range f.lns {
		ln.Close()
	}
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// track registers a connection to close with the front; false when the
// front is closed already.
func (f *SASLFront) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c.Close()
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *SASLFront) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *SASLFront) accept(ln net.Listener) {
	defer f.wg.Done()
	backend := f.toBackend[ln.Addr().String()]
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !f.track(c) {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			f.serve(c, backend)
		}()
	}
}

// maxFrame bounds a request or response the front reads.
const maxFrame = 256 << 20

// frontConn is one client connection through the front.
type frontConn struct {
	f      *SASLFront
	client net.Conn
	wmu    sync.Mutex // guards writes to client

	pmu     sync.Mutex
	pending map[int32]kmsg.Request // requests whose answers are rewritten, by correlation id

	// serve's goroutine only:
	mech    string    // from SaslHandshake; "" before one
	authed  bool      // the last authentication succeeded
	expiry  time.Time // the session's end; zero: none
	refused []byte    // an OAUTHBEARER refusal sent, awaiting the client's 0x01
	reason  string
}

func (f *SASLFront) serve(client net.Conn, backendAddr string) {
	backend, err := net.DialTimeout("tcp", backendAddr, 10*time.Second)
	if err != nil {
		return
	}
	if !f.track(backend) {
		return
	}
	defer f.untrack(backend)
	fc := &frontConn{f: f, client: client, pending: map[int32]kmsg.Request{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fc.pump(backend)
		client.Close()
	}()
	fc.requests(backend)
	backend.Close()
	<-done
}

// requests reads the client's requests: SASL ones are answered here, the
// rest go to the backend once the client is authenticated.
func (fc *frontConn) requests(backend net.Conn) {
	br := bufio.NewReader(fc.client)
	for {
		frame, err := readFrame(br)
		if err != nil || len(frame) < 8 {
			return
		}
		key := int16(binary.BigEndian.Uint16(frame))
		version := int16(binary.BigEndian.Uint16(frame[2:]))
		corr := int32(binary.BigEndian.Uint32(frame[4:]))
		switch kmsg.Key(key) {
		case kmsg.SASLHandshake, kmsg.SASLAuthenticate:
			if !fc.sasl(frame, key, version, corr) {
				return
			}
			continue
		case kmsg.ApiVersions:
			// Allowed before authentication, as on a broker.
		default:
			if !fc.authed {
				fc.f.fail("request key " + strconv.Itoa(int(key)) + " before authentication")
				return
			}
			if !fc.expiry.IsZero() && time.Now().After(fc.expiry) {
				fc.f.mu.Lock()
				fc.f.expired++
				fc.f.mu.Unlock()
				return // a broker closes a connection whose session ended
			}
			if key == int16(kmsg.Metadata) || key == int16(kmsg.FindCoordinator) {
				req := kmsg.RequestForKey(key)
				req.SetVersion(version)
				fc.pmu.Lock()
				fc.pending[corr] = req
				fc.pmu.Unlock()
			}
		}
		if err := writeFrame(backend, frame); err != nil {
			return
		}
	}
}

// pump copies the backend's answers to the client, rewriting broker
// addresses.
func (fc *frontConn) pump(backend net.Conn) {
	br := bufio.NewReader(backend)
	for {
		frame, err := readFrame(br)
		if err != nil || len(frame) < 4 {
			return
		}
		corr := int32(binary.BigEndian.Uint32(frame))
		fc.pmu.Lock()
		req := fc.pending[corr]
		delete(fc.pending, corr)
		fc.pmu.Unlock()
		if req != nil {
			if rewritten, err := fc.f.rewrite(req, frame); err == nil {
				frame = rewritten
			}
		}
		fc.wmu.Lock()
		err = writeFrame(fc.client, frame)
		fc.wmu.Unlock()
		if err != nil {
			return
		}
	}
}

// rewrite replaces backend broker addresses in a Metadata or
// FindCoordinator answer by the front's.
func (f *SASLFront) rewrite(req kmsg.Request, frame []byte) ([]byte, error) {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	body := frame[4:]
	if resp.IsFlexible() {
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, err
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, err
	}
	swap := func(host *string, port *int32) {
		if a, ok := f.toFront[net.JoinHostPort(*host, strconv.Itoa(int(*port)))]; ok {
			h, p, _ := net.SplitHostPort(a)
			n, _ := strconv.Atoi(p)
			*host, *port = h, int32(n)
		}
	}
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		for i := range r.Brokers {
			swap(&r.Brokers[i].Host, &r.Brokers[i].Port)
		}
	case *kmsg.FindCoordinatorResponse:
		swap(&r.Host, &r.Port)
		for i := range r.Coordinators {
			swap(&r.Coordinators[i].Host, &r.Coordinators[i].Port)
		}
	}
	out := append([]byte(nil), frame[:4]...)
	if resp.IsFlexible() {
		out = append(out, 0)
	}
	return resp.AppendTo(out), nil
}

// sasl answers a SaslHandshake or SaslAuthenticate request; false closes
// the connection.
func (fc *frontConn) sasl(frame []byte, key, version int16, corr int32) bool {
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	body, err := requestBody(frame, req.IsFlexible())
	if err == nil {
		err = req.ReadFrom(body)
	}
	if err != nil {
		fc.f.fail("malformed SASL request: " + err.Error())
		return false
	}
	switch r := req.(type) {
	case *kmsg.SASLHandshakeRequest:
		resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = fc.f.mechanisms()
		if !contains(resp.SupportedMechanisms, r.Mechanism) {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			fc.answer(corr, resp)
			return false
		}
		if version < 1 {
			// Raw tokens after a v0 handshake are not checked here.
			resp.ErrorCode = kerr.UnsupportedVersion.Code
			fc.answer(corr, resp)
			return false
		}
		fc.mech, fc.authed, fc.refused = r.Mechanism, false, nil
		return fc.answer(corr, resp)
	case *kmsg.SASLAuthenticateRequest:
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		fail := func(reason string) bool {
			if fc.refused == nil { // an OAUTHBEARER refusal was counted when it was sent
				fc.f.fail(reason)
			}
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			resp.ErrorMessage = kmsg.StringPtr("Authentication failed: " + reason)
			fc.answer(corr, resp)
			return false
		}
		switch {
		case fc.mech == "":
			resp.ErrorCode = kerr.IllegalSaslState.Code
			fc.answer(corr, resp)
			return false
		case fc.refused != nil:
			// The client acknowledged the OAUTHBEARER error challenge.
			return fail(fc.reason)
		}
		var who string
		var expiry time.Time
		var reply []byte
		switch fc.mech {
		case "OAUTHBEARER":
			var reason string
			who, expiry, reason = fc.f.checkOAuth(r.SASLAuthBytes)
			if reason != "" {
				// As Kafka does: an error challenge first, the failure
				// once the client answers it.
				fc.f.fail(reason)
				fc.refused, fc.reason = []byte(`{"status":"invalid_token"}`), reason
				resp.SASLAuthBytes = fc.refused
				return fc.answer(corr, resp)
			}
		case "AWS_MSK_IAM":
			var reason string
			if who, reason = fc.f.checkIAM(r.SASLAuthBytes, fc.client.LocalAddr()); reason != "" {
				return fail(reason)
			}
			reply = []byte(`{"version":"2020_10_22","request-id":"kafkatest"}`)
		}
		lifetime := time.Duration(0)
		if !expiry.IsZero() {
			lifetime = max(time.Until(expiry), time.Millisecond)
		}
		if m := fc.f.cfg.MaxSessionLifetime; m > 0 && (lifetime == 0 || m < lifetime) {
			lifetime = m
		}
		fc.authed, fc.expiry = true, time.Time{}
		if lifetime > 0 {
			fc.expiry = time.Now().Add(lifetime)
			resp.SessionLifetimeMillis = max(lifetime.Milliseconds(), 1)
		}
		resp.SASLAuthBytes = reply
		fc.f.succeed(who)
		return fc.answer(corr, resp)
	}
	return false
}

// answer writes the front's own response to the client.
func (fc *frontConn) answer(corr int32, resp kmsg.Response) bool {
	out := binary.BigEndian.AppendUint32(nil, uint32(corr))
	if resp.IsFlexible() {
		out = append(out, 0)
	}
	out = resp.AppendTo(out)
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	return writeFrame(fc.client, out) == nil
}

func (f *SASLFront) mechanisms() []string {
	var ms []string
	if f.cfg.OAuth != nil {
		ms = append(ms, "OAUTHBEARER")
	}
	if f.cfg.AWSSecret != nil {
		ms = append(ms, "AWS_MSK_IAM")
	}
	return ms
}

func (f *SASLFront) fail(reason string) {
	f.mu.Lock()
	f.failures = append(f.failures, reason)
	f.mu.Unlock()
}

func (f *SASLFront) succeed(who string) {
	f.mu.Lock()
	if f.auths[who] == 0 {
		f.order = append(f.order, who)
	}
	f.auths[who]++
	f.mu.Unlock()
}

// checkOAuth parses an OAUTHBEARER client message (RFC 7628: the GS2
// header, then 0x01-separated key=value pairs ending in two 0x01) and
// checks its token; it returns the token, its expiry, or why it failed.
func (f *SASLFront) checkOAuth(msg []byte) (token string, expiry time.Time, reason string) {
	s := string(msg)
	gs2, rest, ok := strings.Cut(s, "\x01")
	if !ok || !strings.HasPrefix(gs2, "n,") || !strings.HasSuffix(gs2, ",") {
		return "", time.Time{}, fmt.Sprintf("bad GS2 header %q", gs2)
	}
	if zid := strings.TrimSuffix(strings.TrimPrefix(gs2, "n,"), ","); zid != "" && !strings.HasPrefix(zid, "a=") {
		return "", time.Time{}, fmt.Sprintf("bad authorization id %q", zid)
	}
	if !strings.HasSuffix(rest, "\x01\x01") {
		return "", time.Time{}, "message does not end in two 0x01"
	}
	ext := map[string]string{}
	auth := ""
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "\x01\x01"), "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return "", time.Time{}, fmt.Sprintf("bad key/value %q", kv)
		}
		if k == "auth" {
			auth = v
			continue
		}
		ext[k] = v
	}
	token, ok = strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return "", time.Time{}, "no auth=Bearer <token>"
	}
	exp, err := f.cfg.OAuth(token, ext)
	if err != nil {
		return token, time.Time{}, "invalid token: " + err.Error()
	}
	if !time.Now().Before(exp) {
		return token, time.Time{}, "token expired"
	}
	return token, exp, ""
}

// iamNames maps the lowercase keys of an AWS_MSK_IAM payload to the query
// parameter names that were signed.
var iamNames = map[string]string{
	"action":               "Action",
	"x-amz-algorithm":      "X-Amz-Algorithm",
	"x-amz-credential":     "X-Amz-Credential",
	"x-amz-date":           "X-Amz-Date",
	"x-amz-expires":        "X-Amz-Expires",
	"x-amz-signedheaders":  "X-Amz-SignedHeaders",
	"x-amz-security-token": "X-Amz-Security-Token",
}

// checkIAM checks an AWS_MSK_IAM payload: a JSON object holding a SigV4
// presigned "kafka-cluster:Connect" request for the broker's host, whose
// signature it recomputes with the known secret. It returns the access key
// id or why it failed.
func (f *SASLFront) checkIAM(msg []byte, local net.Addr) (who, reason string) {
	var p map[string]string
	if err := json.Unmarshal(msg, &p); err != nil {
		return "", "payload is not a JSON object of strings: " + err.Error()
	}
	switch {
	case p["version"] != "2020_10_22":
		return "", fmt.Sprintf("version %q", p["version"])
	case p["action"] != "kafka-cluster:Connect":
		return "", fmt.Sprintf("action %q", p["action"])
	case p["x-amz-algorithm"] != "AWS4-HMAC-SHA256":
		return "", fmt.Sprintf("algorithm %q", p["x-amz-algorithm"])
	case p["x-amz-signedheaders"] != "host":
		return "", fmt.Sprintf("signed headers %q", p["x-amz-signedheaders"])
	case p["user-agent"] == "":
		return "", "no user-agent"
	}
	host, _, _ := net.SplitHostPort(local.String())
	if p["host"] != host {
		return "", fmt.Sprintf("host %q, want %q", p["host"], host)
	}
	cred := strings.Split(p["x-amz-credential"], "/")
	if len(cred) != 5 || cred[3] != "kafka-cluster" || cred[4] != "aws4_request" {
		return "", fmt.Sprintf("credential %q", p["x-amz-credential"])
	}
	key, day, region := cred[0], cred[1], cred[2]
	if f.cfg.AWSRegion != "" && region != f.cfg.AWSRegion {
		return key, fmt.Sprintf("region %q, want %q", region, f.cfg.AWSRegion)
	}
	stamp := p["x-amz-date"]
	at, err := time.Parse("20060102T150405Z", stamp)
	if err != nil || stamp[:8] != day {
		return key, fmt.Sprintf("date %q for credential day %q", stamp, day)
	}
	if d := time.Since(at); d > f.cfg.AWSMaxSkew || d < -f.cfg.AWSMaxSkew {
		return key, fmt.Sprintf("date %s is %v from now", stamp, d.Round(time.Second))
	}
	if n, err := strconv.Atoi(p["x-amz-expires"]); err != nil || n <= 0 || time.Since(at) > time.Duration(n)*time.Second {
		return key, fmt.Sprintf("expires %q", p["x-amz-expires"])
	}
	secret, ok := f.cfg.AWSSecret(key)
	if !ok {
		return key, fmt.Sprintf("unknown access key %q", key)
	}
	q := url.Values{}
	for lower, name := range iamNames {
		if v, ok := p[lower]; ok {
			q.Set(name, v)
		}
	}
	canonical := "GET\n/\n" + strings.ReplaceAll(q.Encode(), "+", "%20") + "\nhost:" + host + "\n\nhost\n" + hexSHA256(nil)
	scope := strings.Join(cred[1:], "/")
	toSign := "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + hexSHA256([]byte(canonical))
	k := []byte("AWS4" + secret)
	for _, part := range []string{day, region, "kafka-cluster", "aws4_request"} {
		k = hmacSHA256(k, part)
	}
	want := hex.EncodeToString(hmacSHA256(k, toSign))
	if !hmac.Equal([]byte(want), []byte(p["x-amz-signature"])) {
		return key, "signature does not match"
	}
	return key, ""
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readFrame reads one size-prefixed Kafka frame.
func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 0 || n > maxFrame {
		return nil, fmt.Errorf("frame size %d", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func writeFrame(w io.Writer, b []byte) error {
	out := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(out, uint32(len(b)))
	_, err := w.Write(append(out, b...))
	return err
}

// requestBody skips a request header (key, version, correlation id, client
// id, and the tags of a flexible header) and returns the body.
func requestBody(frame []byte, flexible bool) ([]byte, error) {
	b := frame[8:]
	if len(b) < 2 {
		return nil, errors.New("short header")
	}
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > 0 {
		if int(n) > len(b) {
			return nil, errors.New("short client id")
		}
		b = b[n:]
	}
	if flexible {
		return skipTags(b)
	}
	return b, nil
}

// skipTags skips a tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	r := bytes.NewReader(b)
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	for range n {
		if _, err := binary.ReadUvarint(r); err != nil {
			return nil, err
		}
		size, err := binary.ReadUvarint(r)
		if err != nil || size > uint64(r.Len()) {
			return nil, errors.New("bad tagged field")
		}
		if _, err := r.Seek(int64(size), io.SeekCurrent); err != nil {
			return nil, err
		}
	}
	return b[len(b)-r.Len():], nil
}
