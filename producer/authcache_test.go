package producer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
)

// TestRefreshPoint: Java's defaults for long tokens (clamped by the
// minimum period and the buffer), the plain share for short ones.
func TestRefreshPoint(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	def := LoginRefresh{}.settled()
	for _, tc := range []struct {
		name       string
		issued     time.Time
		life       time.Duration
		login      LoginRefresh
		r          float64
		wantOffset time.Duration // from now
	}{
		{"an hour, no jitter", now, time.Hour, def, 0, 48 * time.Minute},
		{"an hour, full jitter", now, time.Hour, def, 1, 51 * time.Minute},
		{"10 minutes: the buffer wins", now, 10 * time.Minute, def, 0, 5 * time.Minute},
		{"7 minutes: the buffer wins", now, 7 * time.Minute, def, 0, 2 * time.Minute},
		{"the minimum period wins", now.Add(-100 * time.Second), 200 * time.Second, LoginRefresh{WindowFactor: 0.5, WindowJitter: -1, Buffer: -1}.settled(), 0, time.Minute},
		{"3 s: the plain share", now, 3 * time.Second, def, 0, 2400 * time.Millisecond},
		{"3 s, full jitter", now, 3 * time.Second, def, 1, 2550 * time.Millisecond},
		{"issued long ago: a share of what is left", now.Add(-50 * time.Minute), time.Hour, def, 0, 5 * time.Minute},
		{"issued long ago, short: a share of what is left", now.Add(-time.Minute), 70 * time.Second, def, 0, 8 * time.Second},
		{"factor 1 and jitter are capped at 95%", now, 3 * time.Second, LoginRefresh{WindowFactor: 1, WindowJitter: 0.25}.settled(), 1, 2850 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := OAuthBearerToken{Issued: tc.issued, Expiry: tc.issued.Add(tc.life)}
			got := refreshPoint(tok, now, tc.login, tc.r).Sub(now)
			if got != tc.wantOffset {
				t.Fatalf("refresh %v after now; want %v", got, tc.wantOffset)
			}
			if !now.Add(got).Before(tok.Expiry) {
				t.Fatal("refresh point not before expiry")
			}
		})
	}
}

// TestTokenCache runs the cache on synctest's clock: a token is reused
// until its refresh point, replaced after; a failed refresh keeps the old
// token until expiry and is retried only after the backoff; concurrent
// dials make one call.
func TestTokenCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var failing atomic.Bool
		src := func(context.Context) (OAuthBearerToken, error) {
			n := calls.Add(1)
			if failing.Load() {
				return OAuthBearerToken{}, errors.New("down")
			}
			return OAuthBearerToken{Token: fmt.Sprint("t", n), Expiry: time.Now().Add(10 * time.Second)}, nil
		}
		login := LoginRefresh{WindowJitter: -1, RetryBackoff: time.Second, RetryBackoffMax: 4 * time.Second}
		c := &tokenCache{src: src, login: &login}
		ctx := context.Background()
		get := func() (string, error) {
			tok, err := c.get(ctx)
			return tok.Token, err
		}
		if tok, err := get(); tok != "t1" || err != nil {
			t.Fatalf("first: %q %v", tok, err)
		}
		time.Sleep(7 * time.Second) // before 80% of 10 s
		if tok, _ := get(); tok != "t1" || calls.Load() != 1 {
			t.Fatalf("before the refresh point: %q after %d calls", tok, calls.Load())
		}
		time.Sleep(1500 * time.Millisecond) // 8.5 s: due
		failing.Store(true)
		if tok, err := get(); tok != "t1" || err != nil || calls.Load() != 2 {
			t.Fatalf("failed refresh: %q %v after %d calls; want the old token", tok, err, calls.Load())
		}
		if tok, _ := get(); tok != "t1" || calls.Load() != 2 {
			t.Fatalf("within the backoff: %q after %d calls; want no new call", tok, calls.Load())
		}
		time.Sleep(1300 * time.Millisecond) // 9.8 s: backoff (≤1.2 s) over, old token still valid
		if tok, _ := get(); tok != "t1" || calls.Load() != 3 {
			t.Fatalf("after the backoff: %q after %d calls", tok, calls.Load())
		}
		time.Sleep(300 * time.Millisecond) // 10.1 s: expired, next try (1.6-2.4 s after the last) not yet due
		if _, err := get(); err == nil || !strings.Contains(err.Error(), "down") {
			t.Fatalf("expired with failing refreshes: %v", err)
		}
		failing.Store(false)
		time.Sleep(3 * time.Second)
		// Concurrent dials: one call, everyone gets the new token.
		results := make(chan string, 5)
		for range 5 {
			go func() { tok, _ := get(); results <- tok }()
		}
		for range 5 {
			if tok := <-results; tok != "t4" {
				t.Fatalf("concurrent: %q", tok)
			}
		}
		if calls.Load() != 4 {
			t.Fatalf("%d calls for concurrent dials", calls.Load())
		}
	})
}

func TestTokenCacheRejectsBadTokens(t *testing.T) {
	login := LoginRefresh{}
	for name, tok := range map[string]OAuthBearerToken{
		"empty":         {Expiry: time.Now().Add(time.Hour)},
		"no expiry":     {Token: "x"},
		"expired":       {Token: "x", Expiry: time.Now().Add(-time.Second)},
		"reserved ext":  {Token: "x", Expiry: time.Now().Add(time.Hour), Extensions: map[string]string{"auth": "y"}},
		"bad ext key":   {Token: "x", Expiry: time.Now().Add(time.Hour), Extensions: map[string]string{"a-b": "y"}},
		"bad ext value": {Token: "x", Expiry: time.Now().Add(time.Hour), Extensions: map[string]string{"ab": "\x01"}},
	} {
		c := &tokenCache{src: func(context.Context) (OAuthBearerToken, error) { return tok, nil }, login: &login}
		if _, err := c.get(context.Background()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUnsecuredJWT(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tok, err := unsecuredJWT(map[string]string{
		"unsecuredLoginStringClaim_sub":  "alice",
		"unsecuredLoginNumberClaim_n":    "7",
		"unsecuredLoginListClaim_scope":  ",read,write",
		"unsecuredLoginExtension_tenant": "acme",
		"unsecuredLoginLifetimeSeconds":  "60",
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	h, c, err := jwtClaims(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "none" || c["sub"] != "alice" || c["n"] != 7.0 || c["iat"] != 1.7e9 || c["exp"] != 1.7e9+60 {
		t.Fatalf("header %v claims %v", h, c)
	}
	if s, _ := c["scope"].([]any); len(s) != 2 || s[0] != "read" || s[1] != "write" {
		t.Fatalf("scope %v", c["scope"])
	}
	if !tok.Expiry.Equal(now.Add(time.Minute)) || tok.Extensions["tenant"] != "acme" {
		t.Fatalf("expiry %v extensions %v", tok.Expiry, tok.Extensions)
	}
	for name, opts := range map[string]map[string]string{
		"no sub":          {},
		"bad lifetime":    {"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginLifetimeSeconds": "-1"},
		"exp is set":      {"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginNumberClaim_exp": "1"},
		"bad number":      {"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginNumberClaim_x": "one"},
		"bad extension":   {"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginExtension_auth": "x"},
		"other principal": {"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginPrincipalClaimName": "user"},
	} {
		if _, err := unsecuredJWT(opts, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// tokenServer is an OAuth token endpoint on loopback granting
// client_credentials to one client.
func tokenServer(t *testing.T, id, secret string, expiresIn int) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		u, p, ok := r.BasicAuth()
		switch {
		case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		case !ok || u != id || p != secret:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "kafka" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"opaque-%d","token_type":"bearer","expires_in":%d}`, n, expiresIn)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestOAuthBearerClientCredentials fetches tokens from an endpoint on
// loopback through properties, both spellings of the credentials.
func TestOAuthBearerClientCredentials(t *testing.T) {
	srv, calls := tokenServer(t, "producer-app", "p@ss word", 3)
	check := func(tok string, ext map[string]string) (time.Time, error) {
		if !strings.HasPrefix(tok, "opaque-") || ext["tenant"] != "acme" {
			return time.Time{}, fmt.Errorf("token %q extensions %v", tok, ext)
		}
		return time.Now().Add(3 * time.Second), nil
	}
	base := map[string]string{
		"security.protocol":                   "SASL_PLAINTEXT",
		"sasl.mechanism":                      "OAUTHBEARER",
		"sasl.oauthbearer.token.endpoint.url": srv.URL + "/token",
		"sasl.login.callback.handler.class":   "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
		"sasl.login.connect.timeout.ms":       "2000",
		"sasl.login.read.timeout.ms":          "2000",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	t.Run("JAAS options", func(t *testing.T) {
		c, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: check})
		p := frontProducer(t, f, WithProperties(with("sasl.jaas.config",
			`org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="producer-app" clientSecret="p@ss word" scope="kafka" extension_tenant="acme";`)))
		checkSecureRoundTrip(t, c, p)
		if calls.Load() == 0 || len(f.Tokens()) == 0 {
			t.Fatalf("%d endpoint calls, tokens %v", calls.Load(), f.Tokens())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		// No HTTP client connection outlives Close.
		kafkatest.WaitGoroutinesGone(t, "net/http.(*persistConn)", 5*time.Second)
	})
	t.Run("newer properties", func(t *testing.T) {
		c, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: check})
		p := frontProducer(t, f, WithProperties(with(
			"sasl.jaas.config", `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="ignored" extension_tenant="acme";`,
			"sasl.oauthbearer.client.credentials.client.id", "producer-app",
			"sasl.oauthbearer.client.credentials.client.secret", "p@ss word",
			"sasl.oauthbearer.scope", "kafka")))
		checkSecureRoundTrip(t, c, p)
		if len(f.Tokens()) == 0 {
			t.Fatal("no token reached the front")
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: check})
		p := frontProducer(t, f, WithMaxBlock(time.Second), WithProperties(with("sasl.jaas.config",
			`org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="producer-app" clientSecret="guess" scope="kafka";`)))
		err := refusal(t, p, time.Second, ErrSASL)
		if !strings.Contains(err.Error(), "401") {
			t.Fatalf("%v does not name the endpoint's answer", err)
		}
	})
}

// TestOAuthBearerTokenFile reads the token from a file: URL, as Java's
// file retriever does.
func TestOAuthBearerTokenFile(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	tok, err := unsecuredJWT(map[string]string{"unsecuredLoginStringClaim_sub": "alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "token.jwt")
	if err := os.WriteFile(path, []byte(tok.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, f := saslFront(t, kafkatest.SASLFrontConfig{OAuth: unsecuredCheck("alice")})
	p := frontProducer(t, f, WithProperties(map[string]string{
		"security.protocol":                   "SASL_PLAINTEXT",
		"sasl.mechanism":                      "OAUTHBEARER",
		"sasl.oauthbearer.token.endpoint.url": "file://" + path,
		"sasl.jaas.config":                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
	}))
	checkSecureRoundTrip(t, c, p)
	if got := f.Tokens(); len(got) != 1 || got[0] != tok.Token {
		t.Fatalf("tokens %v", got)
	}
	_ = exp
}

// TestAuthPropertiesBadInput: every mistake is an ErrInvalidConfig naming
// the key, never a panic.
func TestAuthPropertiesBadInput(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	oauthJAAS := `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="a";`
	sasl := func(kv ...string) map[string]string {
		m := map[string]string{"security.protocol": "SASL_PLAINTEXT"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"typo", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", oauthJAAS, "sasl.login.refresh.windw.factor", "0.8"), "sasl.login.refresh.window.factor"},
		{"unknown mechanism", sasl("sasl.mechanism", "OAUTH"), "sasl.mechanism"},
		{"no sub", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", "x.OAuthBearerLoginModule required;"), "sasl.jaas.config"},
		{"unterminated quote", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", `x required a="b;`), "sasl.jaas.config"},
		{"no semicolon", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", `x required a="b"`), "sasl.jaas.config"},
		{"window factor", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", oauthJAAS, "sasl.login.refresh.window.factor", "0.2"), "sasl.login.refresh.window.factor"},
		{"jitter", sasl("sasl.login.refresh.window.jitter", "0.5"), "sasl.login.refresh.window.jitter"},
		{"min period", sasl("sasl.login.refresh.min.period.seconds", "901"), "sasl.login.refresh.min.period.seconds"},
		{"buffer", sasl("sasl.login.refresh.buffer.seconds", "x"), "sasl.login.refresh.buffer.seconds"},
		{"backoff order", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", oauthJAAS,
			"sasl.login.retry.backoff.ms", "5000", "sasl.login.retry.backoff.max.ms", "100"), "sasl.login.retry.backoff.max.ms"},
		{"endpoint without credentials", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", "x required;",
			"sasl.oauthbearer.token.endpoint.url", "https://idp.example/token"), "client.id"},
		{"endpoint not a URL", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", `x required clientId="a" clientSecret="b";`,
			"sasl.oauthbearer.token.endpoint.url", "ftp://idp.example/token"), "sasl.oauthbearer.token.endpoint.url"},
		{"secured handler without endpoint", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", "x required;",
			"sasl.login.callback.handler.class", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"), "sasl.oauthbearer.token.endpoint.url"},
		{"custom handler", sasl("sasl.mechanism", "OAUTHBEARER", "sasl.jaas.config", oauthJAAS,
			"sasl.login.callback.handler.class", "com.example.MyHandler"), "sasl.login.callback.handler.class"},
		{"urlencode", sasl("sasl.oauthbearer.header.urlencode", "maybe"), "sasl.oauthbearer.header.urlencode"},
		{"MSK without env", sasl("sasl.mechanism", "AWS_MSK_IAM", "sasl.jaas.config", "software.amazon.msk.auth.iam.IAMLoginModule required;"), "AWS_ACCESS_KEY_ID"},
		{"MSK profile", sasl("sasl.mechanism", "AWS_MSK_IAM", "sasl.jaas.config", `software.amazon.msk.auth.iam.IAMLoginModule required awsProfileName="dev";`), "awsProfileName"},
		{"MSK other handler", sasl("sasl.mechanism", "AWS_MSK_IAM", "sasl.jaas.config", "software.amazon.msk.auth.iam.IAMLoginModule required;",
			"sasl.client.callback.handler.class", "com.example.Other"), "sasl.client.callback.handler.class"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(WithProperties(tc.props))
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want ErrInvalidConfig naming %s", err, tc.want)
			}
		})
	}
	for name, opt := range map[string]Opt{
		"nil token source":       WithOAuthBearer(nil),
		"nil credentials source": WithAWSMSKIAM(nil),
		"refresh factor":         WithLoginRefresh(LoginRefresh{WindowFactor: 2}),
		"refresh buffer":         WithLoginRefresh(LoginRefresh{Buffer: 2 * time.Hour}),
	} {
		if _, err := New(opt); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestJAASConfigParsing(t *testing.T) {
	jc, err := parseJAASConfig(`  org.x.LoginModule required a="1 2" b=bare c="q\"uote" d="back\\slash" ;`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1 2", "b": "bare", "c": `q"uote`, "d": `back\slash`}
	if jc.module != "org.x.LoginModule" || fmt.Sprint(jc.opts) != fmt.Sprint(want) {
		t.Fatalf("%q %v", jc.module, jc.opts)
	}
	for _, bad := range []string{"", ";", "x;", "x maybe;", `x required a;`, `x required a="1" a="2";`, `x required ="1";`} {
		if _, err := parseJAASConfig(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzAuthProperties: the JAAS parser and the JWT reader never panic.
func FuzzAuthProperties(f *testing.F) {
	f.Add(`x required unsecuredLoginStringClaim_sub="a" unsecuredLoginListClaim_l=",a,b";`, "a.b.c")
	f.Add(`x required a="\`, "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.")
	f.Fuzz(func(t *testing.T, jaas, jwt string) {
		if jc, err := parseJAASConfig(jaas); err == nil {
			_, _ = unsecuredJWT(jc.opts, time.Now())
		}
		_, _ = jwtToken(jwt, 0)
	})
}
