package producer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kprod/kprod/internal/kafkatest"
)

// tokenIssuer hands out OAUTHBEARER tokens living life each, remembers
// them for the front's check, and records when each was asked for.
type tokenIssuer struct {
	life time.Duration

	mu      sync.Mutex
	issued  map[string]time.Time // token -> expiry
	calls   []time.Time          // when the source was called
	prevExp []time.Time          // the expiry of the newest token at each call
	fail    func(n int) error    // n-th call (from 0) fails when it returns an error
}

func newIssuer(life time.Duration) *tokenIssuer {
	return &tokenIssuer{life: life, issued: map[string]time.Time{}}
}

func (ti *tokenIssuer) source(context.Context) (OAuthBearerToken, error) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	now := time.Now()
	n := len(ti.calls)
	var newest time.Time
	for _, exp := range ti.issued {
		if exp.After(newest) {
			newest = exp
		}
	}
	ti.calls, ti.prevExp = append(ti.calls, now), append(ti.prevExp, newest)
	if ti.fail != nil {
		if err := ti.fail(n); err != nil {
			return OAuthBearerToken{}, err
		}
	}
	tok := fmt.Sprintf("token-%d", n)
	ti.issued[tok] = now.Add(ti.life)
	return OAuthBearerToken{Token: tok, Expiry: now.Add(ti.life), Extensions: map[string]string{"tenant": "acme"}}, nil
}

// check is the front's validator: a token this issuer made, unexpired,
// with its extension.
func (ti *tokenIssuer) check(tok string, ext map[string]string) (time.Time, error) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	exp, ok := ti.issued[tok]
	if !ok {
		return time.Time{}, errors.New("unknown token")
	}
	if ext["tenant"] != "acme" {
		return time.Time{}, fmt.Errorf("extensions %v", ext)
	}
	return exp, nil
}

// saslFront starts a 3-broker kfake cluster with topic "sec" behind a
// SASL-checking front.
func saslFront(t *testing.T, cfg kafkatest.SASLFrontConfig) (*kfake.Cluster, *kafkatest.SASLFront) {
	t.Helper()
	c := newCluster(t, kfake.SeedTopics(3, "sec"))
	return c, kafkatest.NewSASLFront(t, c.ListenAddrs(), cfg)
}

// frontProducer is a producer bootstrapped through the front.
func frontProducer(t *testing.T, f *kafkatest.SASLFront, opts ...Opt) *Producer {
	t.Helper()
	p, err := New(append([]Opt{WithBrokers(f.Addrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

func TestOAuthBearer(t *testing.T) {
	const maxBlock = time.Second
	t.Run("valid token", func(t *testing.T) {
		ti := newIssuer(time.Hour)
		c, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: ti.check})
		p := frontProducer(t, f, WithOAuthBearer(ti.source))
		checkSecureRoundTrip(t, c, p)
		if n := len(ti.calls); n != 1 {
			t.Fatalf("the source was called %d times for an hour-long token", n)
		}
		if f.Auths("token-0") < 2 {
			t.Fatalf("%d authentications with the token", f.Auths("token-0"))
		}
	})
	t.Run("refused token", func(t *testing.T) {
		ti := newIssuer(time.Hour)
		_, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: func(string, map[string]string) (time.Time, error) {
			return time.Time{}, errors.New("revoked")
		}})
		p := frontProducer(t, f, WithOAuthBearer(ti.source), WithMaxBlock(maxBlock))
		err := refusal(t, p, maxBlock, ErrSASL)
		if !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
			t.Fatalf("%v does not carry the broker's refusal", err)
		}
	})
	t.Run("source fails", func(t *testing.T) {
		_, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: newIssuer(time.Hour).check})
		p := frontProducer(t, f, WithMaxBlock(maxBlock), WithOAuthBearer(func(context.Context) (OAuthBearerToken, error) {
			return OAuthBearerToken{}, errors.New("identity provider down")
		}))
		err := refusal(t, p, maxBlock, ErrSASL)
		if !strings.Contains(err.Error(), "identity provider down") {
			t.Fatalf("%v does not say why", err)
		}
	})
	t.Run("source hangs", func(t *testing.T) {
		// A source deaf to its context: the dial gives up at its timeout,
		// the record fails with ErrSASL by max.block, Close returns.
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // after the producer's Close (cleanups run last first)
		_, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: newIssuer(time.Hour).check})
		p := frontProducer(t, f, WithMaxBlock(maxBlock), WithDialTimeout(300*time.Millisecond),
			WithOAuthBearer(func(context.Context) (OAuthBearerToken, error) {
				<-release
				return OAuthBearerToken{}, errors.New("released")
			}))
		refusal(t, p, maxBlock, ErrSASL)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Fatalf("close: %v", err)
		}
	})
	t.Run("source panics", func(t *testing.T) {
		_, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: newIssuer(time.Hour).check})
		p := frontProducer(t, f, WithMaxBlock(maxBlock), WithOAuthBearer(func(context.Context) (OAuthBearerToken, error) {
			panic("oops")
		}))
		refusal(t, p, maxBlock, ErrSASL)
	})
}

// TestOAuthBearerRefresh sends for several lifetimes of 2.5 s tokens: the
// source is asked again before each token expires, the front sees the
// new tokens as connections are replaced (KIP-368), and every record is
// written once, in order, none failing.
func TestOAuthBearerRefresh(t *testing.T) {
	const life = 2500 * time.Millisecond
	ti := newIssuer(life)
	c, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: ti.check})
	p := frontProducer(t, f, WithOAuthBearer(ti.source), WithLinger(2*time.Millisecond))
	l := newLedger(t)
	ctx := ctxTimeout(t, time.Minute)
	const run = 4 * life
	n := sendFor(t, c, p, l, ctx, run, 5*time.Millisecond, 20)

	ti.mu.Lock()
	calls, prevExp := append([]time.Time(nil), ti.calls...), append([]time.Time(nil), ti.prevExp...)
	ti.mu.Unlock()
	if len(calls) < 4 {
		t.Fatalf("the source was called %d times in %v of %v tokens", len(calls), run, life)
	}
	// The source is asked when a connection is dialed past the refresh
	// point, and the pool replaces each connection 75 ms before its
	// session (the token) ends, so calls come before expiry. A loaded
	// machine may hold that dial past the expiry once (seen once in a
	// 20-run flake hunt, beside a Kafka benchmark): the dial then waits for the
	// new token and nothing fails (the front refuses expired tokens, and
	// saw none below). Late calls as a rule would mean the refresh is not
	// tied to the replacement dials.
	late := 0
	for i := 1; i < len(calls); i++ {
		if !calls[i].Before(prevExp[i]) {
			late++
			t.Logf("call %d came %v after the previous token expired", i, calls[i].Sub(prevExp[i]))
		}
	}
	if late > 1 {
		t.Errorf("%d of %d source calls came after the previous token expired", late, len(calls)-1)
	}
	tokens := f.Tokens()
	if len(tokens) < 4 {
		t.Fatalf("the front saw %d tokens: %v", len(tokens), tokens)
	}
	if fails := f.Failures(); len(fails) != 0 {
		t.Fatalf("refused authentications: %q", fails)
	}
	// The pool stops handing out a connection at 97% of its session (75 ms
	// before the end here); a loaded machine may delay one request past
	// the end, which the front answers by closing the connection and the
	// producer by a retry. Without re-authentication every connection's
	// session would end at each of the four token lives: a dozen or more.
	if e := f.Expired(); e > 2 {
		t.Fatalf("%d connections were used after their session ended", e)
	}
	t.Logf("%d records, %d source calls, tokens seen %v, authentications of the first %d", n, len(calls), tokens, f.Auths(tokens[0]))
}

// TestOAuthBearerRefreshFailure: while refreshes fail, connections go on
// with the old token until it expires; a later refresh recovers.
func TestOAuthBearerRefreshFailure(t *testing.T) {
	const life = 2 * time.Second
	ti := newIssuer(life)
	var failFrom time.Time
	ti.fail = func(n int) error {
		if n == 0 {
			failFrom = time.Now().Add(life)
			return nil
		}
		if time.Now().Before(failFrom) {
			return errors.New("identity provider hiccup")
		}
		return nil
	}
	c, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: ti.check})
	p := frontProducer(t, f, WithOAuthBearer(ti.source), WithLinger(2*time.Millisecond))
	l := newLedger(t)
	ctx := ctxTimeout(t, time.Minute)
	n := 0
	for start := time.Now(); time.Since(start) < 2*life+life/2; time.Sleep(10 * time.Millisecond) {
		for range 10 {
			rec := l.record("sec", n)
			p.Send(ctx, rec, l.callback(n))
			n++
		}
	}
	l.wait(30 * time.Second)
	if failed := l.failed(); failed != 0 {
		t.Fatalf("%d of %d records failed, e.g. %v", failed, n, firstErr(l))
	}
	l.checkLog(consume(t, c, "sec", n))
	ti.mu.Lock()
	calls := len(ti.calls)
	ti.mu.Unlock()
	if calls < 3 {
		t.Fatalf("the source was called %d times: no retry after the failed refresh", calls)
	}
	if f.Auths("token-0") < 2 {
		t.Fatalf("the first token authenticated %d times: not reused after the failed refresh", f.Auths("token-0"))
	}
	if len(f.Tokens()) < 2 {
		t.Fatalf("no new token after the failures: %v", f.Tokens())
	}
}

func TestAWSMSKIAM(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-2")
	secrets := map[string]string{"AKIDEXAMPLE": "wJalrXUtnFEMI"}
	cfg := kafkatest.SASLFrontConfig{
		AWSSecret: func(id string) (string, bool) { s, ok := secrets[id]; return s, ok },
		AWSRegion: "us-east-2",
	}
	creds := func(secret string) func(context.Context) (AWSCredentials, error) {
		return func(context.Context) (AWSCredentials, error) {
			return AWSCredentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret, SessionToken: "FwoGZXIvYXdz", UserAgent: "kprod-test"}, nil
		}
	}
	t.Run("right secret", func(t *testing.T) {
		c, f := saslFront(t, cfg)
		p := frontProducer(t, f, WithAWSMSKIAM(creds("wJalrXUtnFEMI")))
		checkSecureRoundTrip(t, c, p)
		if f.Auths("AKIDEXAMPLE") == 0 {
			t.Fatal("the front counted no authentication")
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, f := saslFront(t, cfg)
		p := frontProducer(t, f, WithAWSMSKIAM(creds("guess")), WithMaxBlock(time.Second))
		refusal(t, p, time.Second, ErrSASL)
		if fails := f.Failures(); len(fails) == 0 || fails[0] != "signature does not match" {
			t.Fatalf("front failures %q", fails)
		}
	})
	t.Run("source hangs", func(t *testing.T) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		_, f := saslFront(t, cfg)
		p := frontProducer(t, f, WithMaxBlock(time.Second), WithDialTimeout(300*time.Millisecond),
			WithAWSMSKIAM(func(context.Context) (AWSCredentials, error) {
				<-release
				return AWSCredentials{}, errors.New("released")
			}))
		refusal(t, p, time.Second, ErrSASL)
	})
	t.Run("no credentials", func(t *testing.T) {
		_, f := saslFront(t, cfg)
		p := frontProducer(t, f, WithMaxBlock(time.Second), WithAWSMSKIAM(func(context.Context) (AWSCredentials, error) {
			return AWSCredentials{}, nil
		}))
		refusal(t, p, time.Second, ErrSASL)
	})
}

// jwtClaims decodes the claims of a JWT without checking it.
func jwtClaims(tok string) (header, claims map[string]any, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return nil, nil, err
		}
	}
	return header, claims, nil
}

// unsecuredCheck validates an unsecured JWT as a broker's default
// OAUTHBEARER validator does: alg none, no signature, the subject, exp.
func unsecuredCheck(sub string) func(string, map[string]string) (time.Time, error) {
	return func(tok string, _ map[string]string) (time.Time, error) {
		h, c, err := jwtClaims(tok)
		if err != nil {
			return time.Time{}, err
		}
		if h["alg"] != "none" || !strings.HasSuffix(tok, ".") {
			return time.Time{}, fmt.Errorf("header %v", h)
		}
		if c["sub"] != sub {
			return time.Time{}, fmt.Errorf("sub %v", c["sub"])
		}
		exp, ok := c["exp"].(float64)
		if !ok {
			return time.Time{}, errors.New("no exp")
		}
		return time.Unix(int64(exp), 0), nil
	}
}

// TestOAuthBearerUnsecuredProperties configures Java's development
// unsecured JWT through properties, with tokens living 2 s so that the
// refresh settings matter.
func TestOAuthBearerUnsecuredProperties(t *testing.T) {
	c, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: unsecuredCheck("alice")})
	p := frontProducer(t, f, WithProperties(map[string]string{
		"security.protocol": "SASL_PLAINTEXT",
		"sasl.mechanism":    "OAUTHBEARER",
		"sasl.jaas.config": `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ` +
			`unsecuredLoginStringClaim_sub="alice" unsecuredLoginLifetimeSeconds="2";`,
		"sasl.login.refresh.min.period.seconds": "1",
		"sasl.login.refresh.buffer.seconds":     "0",
	}))
	l := newLedger(t)
	ctx := ctxTimeout(t, time.Minute)
	sendFor(t, c, p, l, ctx, 5*time.Second, 20*time.Millisecond, 10)
	if toks := f.Tokens(); len(toks) < 2 {
		t.Fatalf("%d tokens seen over 5 s of 2 s tokens", len(toks))
	}
	if fails := f.Failures(); len(fails) != 0 {
		t.Fatalf("refused: %q", fails)
	}

	_, f2 := saslFront(t, kafkatest.SASLFrontConfig{OAuth: unsecuredCheck("alice")})
	p2 := frontProducer(t, f2, WithMaxBlock(time.Second), WithProperties(map[string]string{
		"security.protocol": "SASL_PLAINTEXT",
		"sasl.mechanism":    "OAUTHBEARER",
		"sasl.jaas.config":  `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="mallory";`,
	}))
	refusal(t, p2, time.Second, ErrSASL)
}

func TestAWSMSKIAMProperties(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-2")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	c, f := saslFront(t, kafkatest.SASLFrontConfig{
		AWSSecret: func(id string) (string, bool) { return "envsecret", id == "AKIDENV" },
	})
	props := map[string]string{
		"security.protocol":                  "SASL_PLAINTEXT",
		"sasl.mechanism":                     "AWS_MSK_IAM",
		"sasl.jaas.config":                   "software.amazon.msk.auth.iam.IAMLoginModule required;",
		"sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
	}
	p := frontProducer(t, f, WithProperties(props))
	checkSecureRoundTrip(t, c, p, []kgo.Opt{}...)
	if f.Auths("AKIDENV") == 0 {
		t.Fatal("no authentication with the environment's key")
	}

	t.Setenv("AWS_SECRET_ACCESS_KEY", "rotated-wrong")
	_, f2 := saslFront(t, kafkatest.SASLFrontConfig{
		AWSSecret: func(id string) (string, bool) { return "envsecret", id == "AKIDENV" },
	})
	p2 := frontProducer(t, f2, WithProperties(props), WithMaxBlock(time.Second))
	refusal(t, p2, time.Second, ErrSASL)
}

// sendFor sends perTick records to topic "sec" (partitions 0-2 in turn)
// every tick for run (a time, where sendPaced takes a count), then checks that every record was answered without
// error and is in the log once, in order, at its offset. It returns how
// many it sent.
func sendFor(t *testing.T, c *kfake.Cluster, p *Producer, l *ledger, ctx context.Context, run, tick time.Duration, perTick int) int {
	t.Helper()
	n := 0
	for start := time.Now(); time.Since(start) < run; time.Sleep(tick) {
		for range perTick {
			rec := l.record("sec", n)
			rec.Partition, rec.PinPartition = int32(n%3), true
			p.Send(ctx, rec, l.callback(n))
			n++
		}
	}
	l.wait(30 * time.Second)
	if failed := l.failed(); failed != 0 {
		t.Fatalf("%d of %d records failed, e.g. %v", failed, n, firstErr(l))
	}
	l.checkLog(consume(t, c, "sec", n))
	return n
}
