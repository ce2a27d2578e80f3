package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/kprod/kprod/internal/backoff"
)

// OAuthBearerToken is an access token for SASL OAUTHBEARER (KIP-255), as a
// token source hands it to the producer.
type OAuthBearerToken struct {
	// Token is the access token itself, usually a JWT. Required.
	Token string
	// Expiry is when the token stops being valid. Required: the producer
	// refreshes the token before it, and brokers end a connection's
	// session by it (KIP-368).
	Expiry time.Time
	// Issued is when the token was issued; zero means when the source
	// returned it. The refresh point is measured from it.
	Issued time.Time
	// Extensions are SASL extensions sent with the token (RFC 7628 key/value
	// pairs: keys of letters only, "auth" excluded). Optional.
	Extensions map[string]string
	// AuthzID is the authorization identity of the GS2 header ("a=..."),
	// which Kafka brokers ignore. Optional.
	AuthzID string
}

// LoginRefresh says when a cached OAUTHBEARER token is replaced and how a
// failed refresh is retried. The zero value of a field means its default;
// the defaults are Java's.
type LoginRefresh struct {
	// WindowFactor is the share of the token's lifetime after which it is
	// refreshed, 0.5 to 1.0 (Java sasl.login.refresh.window.factor; 0.8).
	WindowFactor float64
	// WindowJitter is a random share of the lifetime added to WindowFactor,
	// 0 to 0.25 (Java sasl.login.refresh.window.jitter; 0.05). A negative
	// value means no jitter.
	WindowJitter float64
	// MinPeriod is the least time between two refreshes, 0 to 15 minutes
	// (Java sasl.login.refresh.min.period.seconds; 60s). A negative value
	// means none.
	MinPeriod time.Duration
	// Buffer is the time before expiry by which the token is refreshed, 0 to
	// 1 hour (Java sasl.login.refresh.buffer.seconds; 300s). A negative value
	// means none.
	Buffer time.Duration
	// RetryBackoff and RetryBackoffMax bound the exponential wait after a
	// failed refresh (Java sasl.login.retry.backoff.ms 100 and
	// sasl.login.retry.backoff.max.ms 10000).
	RetryBackoff, RetryBackoffMax time.Duration
}

// Java's defaults of the login refresh settings.
const (
	defaultRefreshFactor   = 0.8
	defaultRefreshJitter   = 0.05
	defaultRefreshMin      = 60 * time.Second
	defaultRefreshBuffer   = 300 * time.Second
	defaultLoginBackoff    = 100 * time.Millisecond
	defaultLoginBackoffMax = 10 * time.Second
)

// settled returns r with every zero field set to its default and every
// negative one to zero.
func (r LoginRefresh) settled() LoginRefresh {
	return LoginRefresh{
		WindowFactor:    refreshSetting(r.WindowFactor, defaultRefreshFactor),
		WindowJitter:    refreshSetting(r.WindowJitter, defaultRefreshJitter),
		MinPeriod:       refreshSetting(r.MinPeriod, defaultRefreshMin),
		Buffer:          refreshSetting(r.Buffer, defaultRefreshBuffer),
		RetryBackoff:    refreshSetting(r.RetryBackoff, defaultLoginBackoff),
		RetryBackoffMax: refreshSetting(r.RetryBackoffMax, defaultLoginBackoffMax),
	}
}

// refreshSetting is v, or def when v is zero, or 0 when v is negative
// ("none").
func refreshSetting[T float64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// check validates the ranges Java allows; it names the Java property.
func (r LoginRefresh) check() error {
	s := r.settled()
	switch {
	case s.WindowFactor < 0.5 || s.WindowFactor > 1:
		return configError("sasl.login.refresh.window.factor (WithLoginRefresh)", "must be between 0.5 and 1.0")
	case s.WindowJitter > 0.25:
		return configError("sasl.login.refresh.window.jitter (WithLoginRefresh)", "must be between 0 and 0.25")
	case s.MinPeriod > 15*time.Minute:
		return configError("sasl.login.refresh.min.period.seconds (WithLoginRefresh)", "must be between 0 and 900 seconds")
	case s.Buffer > time.Hour:
		return configError("sasl.login.refresh.buffer.seconds (WithLoginRefresh)", "must be between 0 and 3600 seconds")
	case s.RetryBackoffMax < s.RetryBackoff:
		return configError("sasl.login.retry.backoff.max.ms (WithLoginRefresh)", "must be >= sasl.login.retry.backoff.ms")
	}
	return nil
}

// WithLoginRefresh sets when OAUTHBEARER tokens are refreshed and how a
// failed refresh is retried (Java sasl.login.refresh.* and
// sasl.login.retry.backoff.*); see LoginRefresh for the defaults. It applies
// to WithOAuthBearer's tokens and to those configured through
// WithProperties, in whatever order the options come; it replaces every
// sasl.login.refresh.* and sasl.login.retry.* property given before it.
func WithLoginRefresh(r LoginRefresh) Opt {
	return func(c *config) {
		if err := r.check(); err != nil {
			c.deferred = append(c.deferred, err)
			return
		}
		c.login = r
	}
}

// WithOAuthBearer authenticates every broker connection with SASL
// OAUTHBEARER (Java sasl.mechanism=OAUTHBEARER), using tokens from src.
//
// The producer keeps the last token and asks src for a new one once a
// connection is dialed after the token's refresh point: by default 80-85%
// of its lifetime, at least a minute after it was fetched and at least 5
// minutes before it expires, the last two only for tokens living long
// enough to allow both (see WithLoginRefresh). Brokers end a session when
// its token expires (KIP-368) and the producer replaces each connection
// shortly before that, so a connection is always dialed in time to refresh
// the token. While a refresh fails, connections keep using the old token
// until it expires, and src is retried after an exponential backoff
// (100ms doubling up to 10s). src gets the context of the dial that needs
// the token (bounded by WithDialTimeout and ended by Close) and runs on a
// goroutine of its own, never two calls at once; a dial waits for it no
// longer than its context allows. An error, a panic or an expired token
// from src fails the dial with an error matching ErrSASL. Between
// refreshes the producer runs nothing for the token: no timer, no
// goroutine.
func WithOAuthBearer(src func(ctx context.Context) (OAuthBearerToken, error)) Opt {
	return func(c *config) {
		if src == nil {
			c.deferred = append(c.deferred, configError("WithOAuthBearer", "nil token source"))
			return
		}
		c.sasl = newOAuthMechanism(src, &c.login)
	}
}

// AWSCredentials are the AWS credentials that sign an AWS_MSK_IAM
// authentication.
type AWSCredentials struct {
	AccessKeyID     string // required
	SecretAccessKey string // required
	SessionToken    string // for temporary credentials (STS); optional
	// UserAgent is sent to the broker; empty means franz-go's default
	// ("franz-go/<Go version>/<host name>").
	UserAgent string
}

// WithAWSMSKIAM authenticates every broker connection with SASL
// AWS_MSK_IAM, the IAM access control of Amazon MSK (Java
// sasl.mechanism=AWS_MSK_IAM with the aws-msk-iam-auth library), signing
// each authentication with credentials from src (AWS Signature Version 4).
// src is called on every dial with the dial's context (a dial waits for it
// no longer than that context allows), so it may rotate credentials; cache
// them in src when fetching them is costly (the AWS SDK's credential
// providers do). The region comes from the broker's host name
// (b-1.cluster.x.kafka.<region>.amazonaws.com), else from the AWS_REGION or
// AWS_DEFAULT_REGION environment variables. A failure of src fails the dial
// with an error matching ErrSASL.
func WithAWSMSKIAM(src func(ctx context.Context) (AWSCredentials, error)) Opt {
	return func(c *config) {
		if src == nil {
			c.deferred = append(c.deferred, configError("WithAWSMSKIAM", "nil credentials source"))
			return
		}
		c.sasl = newAWSMechanism(src)
	}
}

// newAWSMechanism adapts src to franz-go's AWS_MSK_IAM mechanism.
func newAWSMechanism(src func(ctx context.Context) (AWSCredentials, error)) sasl.Mechanism {
	return aws.ManagedStreamingIAM(func(ctx context.Context) (aws.Auth, error) {
		// On a goroutine of its own, so that a source deaf to ctx holds
		// the dial up no longer than ctx allows.
		type result struct {
			cr  AWSCredentials
			err error
		}
		done := make(chan result, 1)
		go func() {
			var r result
			r.err = callSource(func() (err error) { r.cr, err = src(ctx); return err })
			done <- r
		}()
		var r result
		select {
		case r = <-done:
		case <-ctx.Done():
			r.err = fmt.Errorf("waiting for the credentials source: %w", ctx.Err())
		}
		cr, err := r.cr, r.err
		if err != nil {
			return aws.Auth{}, fmt.Errorf("AWS credentials: %w", err)
		}
		if cr.AccessKeyID == "" || cr.SecretAccessKey == "" {
			return aws.Auth{}, errors.New("AWS credentials: the access key id and the secret access key are both required")
		}
		return aws.Auth{AccessKey: cr.AccessKeyID, SecretKey: cr.SecretAccessKey,
			SessionToken: cr.SessionToken, UserAgent: cr.UserAgent}, nil
	})
}

// callSource runs a user's source function, turning a panic into an error.
func callSource(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the source panicked: %v", r)
		}
	}()
	return fn()
}

// oauthMechanism is SASL OAUTHBEARER with a cached, refreshed token. Its
// first message is franz-go's (pkg/sasl/oauth); its session answers a
// broker's error challenge the way RFC 7628 asks, so the broker's failure
// reaches the caller as an error code with its message.
type oauthMechanism struct{ cache *tokenCache }

func newOAuthMechanism(src func(ctx context.Context) (OAuthBearerToken, error), login *LoginRefresh) *oauthMechanism {
	return &oauthMechanism{cache: &tokenCache{src: src, login: login}}
}

func (*oauthMechanism) Name() string { return "OAUTHBEARER" }

func (m *oauthMechanism) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	tok, err := m.cache.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	first := oauth.Auth{Token: tok.Token, Extensions: tok.Extensions, Zid: tok.AuthzID}
	_, msg, err := oauth.Oauth(func(context.Context) (oauth.Auth, error) { return first, nil }).Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	return &oauthSession{}, msg, nil
}

// oauthSession is one OAUTHBEARER exchange after the client's first
// message.
type oauthSession struct{ refusal []byte }

func (s *oauthSession) Challenge(reply []byte) (bool, []byte, error) {
	switch {
	case len(reply) == 0:
		return true, nil, nil
	case s.refusal == nil:
		// A non-empty reply is the broker's error (a JSON status); the
		// client acknowledges it with a lone 0x01 and the broker then
		// fails the authentication.
		s.refusal = reply
		return false, []byte{0x01}, nil
	}
	return false, nil, fmt.Errorf("token refused: %s", s.refusal)
}

// tokenCache holds the current OAUTHBEARER token and fetches the next one
// when a dial asks for it after the refresh point. Its fields are guarded by
// mu; src runs on a goroutine of its own, outside the lock, one call at a
// time.
type tokenCache struct {
	src   func(ctx context.Context) (OAuthBearerToken, error)
	login *LoginRefresh // the producer's settings; immutable once New returns

	mu        sync.Mutex
	tok       OAuthBearerToken // the current token; Token is "" before the first
	refreshAt time.Time        // when tok is due for replacement
	fetching  *fetchCall       // the running call of src, nil when none runs
	failures  int              // consecutive failed fetches
	retryAt   time.Time        // no fetch before this after a failure
	lastErr   error            // the last fetch's error, nil after a success
}

// fetchCall is one call of the token source; tok and err are set before
// done closes.
type fetchCall struct {
	done chan struct{}
	tok  OAuthBearerToken
	err  error
}

// get returns a token to authenticate with now: the current one when it is
// not yet due for refresh, else a fresh one from src. A failed refresh
// falls back to the current token while it is valid. A dial waits for src
// at most until ctx ends, so a source that hangs cannot hold up dials or
// Close.
func (c *tokenCache) get(ctx context.Context) (OAuthBearerToken, error) {
	c.mu.Lock()
	now := time.Now()
	old := c.tok
	valid := old.Token != "" && now.Before(old.Expiry)
	if valid && now.Before(c.refreshAt) {
		c.mu.Unlock()
		return old, nil
	}
	call := c.fetching
	switch {
	case call != nil && valid:
		// Another dial is refreshing; the current token still serves.
		c.mu.Unlock()
		return old, nil
	case call == nil && now.Before(c.retryAt):
		err, wait := c.lastErr, c.retryAt.Sub(now)
		c.mu.Unlock()
		if valid {
			return old, nil
		}
		return OAuthBearerToken{}, fmt.Errorf("%w (next try in %v)", err, wait.Round(time.Millisecond))
	case call == nil:
		call = &fetchCall{done: make(chan struct{})}
		c.fetching = call
		go c.fetch(ctx, call)
	}
	c.mu.Unlock()

	var err error
	select {
	case <-call.done:
		if call.err == nil {
			return call.tok, nil
		}
		err = call.err
	case <-ctx.Done():
		err = fmt.Errorf("OAUTHBEARER token: waiting for the token source: %w", ctx.Err())
	}
	if old.Token != "" && time.Now().Before(old.Expiry) {
		return old, nil
	}
	return OAuthBearerToken{}, err
}

// fetch calls the source for call, records the outcome in the cache and
// closes call.done.
func (c *tokenCache) fetch(ctx context.Context, call *fetchCall) {
	tok, err := c.call(ctx)
	c.mu.Lock()
	now := time.Now()
	c.fetching = nil
	if err != nil {
		login := c.login.settled()
		c.lastErr = err
		c.retryAt = now.Add(backoff.Exp(login.RetryBackoff, login.RetryBackoffMax, c.failures))
		c.failures++
	} else {
		c.tok, c.lastErr, c.failures, c.retryAt = tok, nil, 0, time.Time{}
		c.refreshAt = refreshPoint(tok, now, c.login.settled(), rand.Float64())
	}
	c.mu.Unlock()
	call.tok, call.err = tok, err
	close(call.done)
}

// call calls the source and checks what it returns.
func (c *tokenCache) call(ctx context.Context) (OAuthBearerToken, error) {
	var tok OAuthBearerToken
	err := callSource(func() (err error) { tok, err = c.src(ctx); return err })
	if err != nil {
		return tok, fmt.Errorf("OAUTHBEARER token: %w", err)
	}
	now := time.Now()
	switch {
	case tok.Token == "":
		return tok, errors.New("OAUTHBEARER token: the source returned an empty token")
	case tok.Expiry.IsZero():
		return tok, errors.New("OAUTHBEARER token: the source returned no expiry")
	case !now.Before(tok.Expiry):
		return tok, fmt.Errorf("OAUTHBEARER token: the source returned a token that expired at %s", tok.Expiry.UTC().Format(time.RFC3339Nano))
	}
	for k, v := range tok.Extensions {
		if err := checkExtension(k, v); err != nil {
			return tok, fmt.Errorf("OAUTHBEARER token: %w", err)
		}
	}
	if tok.Issued.IsZero() || tok.Issued.After(now) {
		tok.Issued = now
	}
	return tok, nil
}

var (
	extensionKey   = regexp.MustCompile(`^[A-Za-z]+$`)
	extensionValue = regexp.MustCompile(`^[\x21-\x7E \t\r\n]+$`)
)

// checkExtension applies RFC 7628's grammar of a SASL extension.
func checkExtension(k, v string) error {
	switch {
	case k == "auth":
		return errors.New(`extension "auth" is reserved`)
	case !extensionKey.MatchString(k):
		return fmt.Errorf("extension key %q: letters only", k)
	case !extensionValue.MatchString(v):
		return fmt.Errorf("extension %q: value must be printable ASCII", k)
	}
	return nil
}

// refreshPoint is when a token fetched at now is due for replacement: at
// WindowFactor plus up to WindowJitter (r in [0,1) picks how much) of its
// lifetime from issue. When the remaining lifetime leaves room for both
// MinPeriod and Buffer, the point is moved to at least MinPeriod from now
// and at most Buffer before expiry, as Java does; a shorter-lived token
// keeps the plain share, capped at 95% of its lifetime so that it is
// always refreshed before it expires.
func refreshPoint(tok OAuthBearerToken, now time.Time, login LoginRefresh, r float64) time.Time {
	start := tok.Issued
	life := tok.Expiry.Sub(start)
	share := min(login.WindowFactor+login.WindowJitter*r, 0.95)
	at := start.Add(time.Duration(float64(life) * share))
	if !at.After(now) { // issued long ago: the same share of what is left
		at = now.Add(time.Duration(float64(tok.Expiry.Sub(now)) * share))
	}
	if tok.Expiry.Sub(now) >= login.MinPeriod+login.Buffer {
		if latest := tok.Expiry.Add(-login.Buffer); at.After(latest) {
			at = latest
		}
		if earliest := now.Add(login.MinPeriod); at.Before(earliest) {
			at = earliest
		}
	}
	return at
}
