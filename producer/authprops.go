package producer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
)

// This file turns the Java properties of OAUTHBEARER and AWS_MSK_IAM into
// token and credential sources: the unsecured JWT of Java's default login
// handler, the OAuth client_credentials grant against a token endpoint (or a
// token file), and AWS credentials from the environment.

// jaasConfig is one parsed sasl.jaas.config line: `<module> <flag>
// key="value" ... ;`.
type jaasConfig struct {
	module string
	opts   map[string]string
}

// parseJAASConfig parses a JAAS login module line. Values may be quoted
// (with \" and \\ escapes) or bare words.
func parseJAASConfig(v string) (jaasConfig, error) {
	v = strings.TrimSpace(v)
	if !strings.HasSuffix(v, ";") {
		return jaasConfig{}, errors.New(`must end with ";"`)
	}
	v = strings.TrimSpace(strings.TrimSuffix(v, ";"))
	word := func() string {
		i := strings.IndexAny(v, " \t\r\n")
		if i < 0 {
			i = len(v)
		}
		w := v[:i]
		v = strings.TrimSpace(v[i:])
		return w
	}
	jc := jaasConfig{module: word(), opts: map[string]string{}}
	switch flag := word(); flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return jaasConfig{}, fmt.Errorf("want `<login module class> required ...;`, got flag %q", flag)
	}
	if jc.module == "" {
		return jaasConfig{}, errors.New("no login module class")
	}
	for v != "" {
		eq := strings.IndexByte(v, '=')
		if eq <= 0 {
			return jaasConfig{}, fmt.Errorf("option %q is not key=value", v)
		}
		key := strings.TrimSpace(v[:eq])
		if strings.ContainsAny(key, " \t\r\n\"") {
			return jaasConfig{}, fmt.Errorf("bad option name %q", key)
		}
		v = strings.TrimSpace(v[eq+1:])
		var val string
		if strings.HasPrefix(v, `"`) {
			var b strings.Builder
			i, closed := 1, false
			for ; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
					b.WriteByte(v[i])
					continue
				}
				if v[i] == '"' {
					closed = true
					break
				}
				b.WriteByte(v[i])
			}
			if !closed {
				return jaasConfig{}, fmt.Errorf("option %s: unterminated quote", key)
			}
			val, v = b.String(), strings.TrimSpace(v[i+1:])
		} else {
			val = word()
		}
		if _, dup := jc.opts[key]; dup {
			return jaasConfig{}, fmt.Errorf("option %s given twice", key)
		}
		jc.opts[key] = val
	}
	return jc, nil
}

// parseJAAS reads username and password from a JAAS login module line such as
// `...PlainLoginModule required username="u" password="p";`.
func parseJAAS(v string) (user, pass string, err error) {
	jc, err := parseJAASConfig(v)
	if err != nil {
		return "", "", err
	}
	if jc.opts["username"] == "" {
		return "", "", fmt.Errorf(`no username="..." found`)
	}
	return jc.opts["username"], jc.opts["password"], nil
}

// Login callback handler classes of Java's OAUTHBEARER client: the
// unsecured default, and the one that fetches tokens from
// sasl.oauthbearer.token.endpoint.url (its 4.x and older package names).
var (
	unsecuredLoginHandlers = map[string]bool{
		"org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredLoginCallbackHandler": true,
	}
	endpointLoginHandlers = map[string]bool{
		"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler":         true,
		"org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler": true,
	}
	mskClientHandler = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
)

// oauthSettings gathers the OAUTHBEARER properties, applied together.
type oauthSettings struct {
	loginHandler                  string
	tokenURL, clientID, secret    string
	scope                         string
	hasClientID, hasSecret, hasSc bool
	urlencode                     bool
	connectTimeout, readTimeout   time.Duration
}

// oauthSource builds the token source the OAUTHBEARER properties describe:
// a token endpoint (client credentials, or a file: URL) when one is named
// or the login handler asks for it, else Java's unsecured JWT.
func (o *oauthSettings) source(jc jaasConfig) (func(ctx context.Context) (OAuthBearerToken, error), error) {
	useEndpoint := endpointLoginHandlers[o.loginHandler] || (o.loginHandler == "" && o.tokenURL != "")
	if !useEndpoint {
		if o.tokenURL != "" {
			return nil, fmt.Errorf("sasl.oauthbearer.token.endpoint.url: the unsecured login handler %s does not use it", o.loginHandler)
		}
		if _, err := unsecuredJWT(jc.opts, time.Now()); err != nil {
			return nil, fmt.Errorf("sasl.jaas.config: %w", err)
		}
		return func(context.Context) (OAuthBearerToken, error) { return unsecuredJWT(jc.opts, time.Now()) }, nil
	}
	if o.tokenURL == "" {
		return nil, errors.New("sasl.oauthbearer.token.endpoint.url: needed by " + o.loginHandler)
	}
	u, err := url.Parse(o.tokenURL)
	if err != nil {
		return nil, fmt.Errorf("sasl.oauthbearer.token.endpoint.url: %v", err)
	}
	ext, err := jaasExtensions(jc.opts, "extension_")
	if err != nil {
		return nil, fmt.Errorf("sasl.jaas.config: %w", err)
	}
	if u.Scheme == "file" {
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		return func(context.Context) (OAuthBearerToken, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return OAuthBearerToken{}, err
			}
			tok, err := jwtToken(strings.TrimSpace(string(b)), 0)
			tok.Extensions = ext
			return tok, err
		}, nil
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("sasl.oauthbearer.token.endpoint.url: %q is not an http, https or file URL", o.tokenURL)
	}
	ep := &tokenEndpoint{url: o.tokenURL, urlencode: o.urlencode, extensions: ext}
	// The newer properties win over the JAAS options, as in Java 4.1+.
	ep.clientID, ep.secret, ep.scope = jc.opts["clientId"], jc.opts["clientSecret"], jc.opts["scope"]
	if o.hasClientID {
		ep.clientID = o.clientID
	}
	if o.hasSecret {
		ep.secret = o.secret
	}
	if o.hasSc {
		ep.scope = o.scope
	}
	if ep.clientID == "" || ep.secret == "" {
		return nil, errors.New("sasl.oauthbearer.client.credentials.client.id and .client.secret (or clientId and clientSecret in sasl.jaas.config): both needed with a token endpoint")
	}
	dialer := &net.Dialer{Timeout: o.connectTimeout}
	ep.client = &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   o.connectTimeout,
		ResponseHeaderTimeout: o.readTimeout,
		// Tokens are fetched minutes apart: a connection per fetch, so
		// no idle connection (and its goroutines) outlives Close.
		DisableKeepAlives: true,
	}}
	return ep.token, nil
}

// jaasExtensions collects the SASL extensions given as JAAS options with
// the prefix.
func jaasExtensions(opts map[string]string, prefix string) (map[string]string, error) {
	var ext map[string]string
	for k, v := range opts {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			if err := checkExtension(name, v); err != nil {
				return nil, err
			}
			if ext == nil {
				ext = map[string]string{}
			}
			ext[name] = v
		}
	}
	return ext, nil
}

// unsecuredJWT makes the unsigned JWT (alg "none") of Java's unsecured
// OAUTHBEARER login handler from its JAAS options: claims from
// unsecuredLoginStringClaim_<name>, unsecuredLoginNumberClaim_<name> and
// unsecuredLoginListClaim_<name> (the first character separates the items),
// the principal claim (unsecuredLoginPrincipalClaimName, default "sub")
// required, iat now and exp after unsecuredLoginLifetimeSeconds (default
// 3600), extensions from unsecuredLoginExtension_<name>. Brokers accept it
// only with their unsecured validator: it is for development.
func unsecuredJWT(opts map[string]string, now time.Time) (OAuthBearerToken, error) {
	lifetime := 3600.0
	if v, ok := opts["unsecuredLoginLifetimeSeconds"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > math.MaxInt32 || math.IsNaN(f) {
			return OAuthBearerToken{}, fmt.Errorf("unsecuredLoginLifetimeSeconds=%q: not a positive number of seconds", v)
		}
		lifetime = f
	}
	principal := "sub"
	if v := opts["unsecuredLoginPrincipalClaimName"]; v != "" {
		principal = v
	}
	claims := map[string]any{}
	var keys []string
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := opts[k]
		var name string
		var val any
		switch {
		case strings.HasPrefix(k, "unsecuredLoginStringClaim_"):
			name, val = k[len("unsecuredLoginStringClaim_"):], v
		case strings.HasPrefix(k, "unsecuredLoginNumberClaim_"):
			name = k[len("unsecuredLoginNumberClaim_"):]
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return OAuthBearerToken{}, fmt.Errorf("%s=%q: not a number", k, v)
			}
			val = f
		case strings.HasPrefix(k, "unsecuredLoginListClaim_"):
			name = k[len("unsecuredLoginListClaim_"):]
			items := []string{}
			if v != "" {
				for _, it := range strings.Split(v[1:], v[:1]) {
					if it != "" {
						items = append(items, it)
					}
				}
			}
			val = items
		default:
			continue
		}
		switch name {
		case "":
			return OAuthBearerToken{}, fmt.Errorf("%s: no claim name", k)
		case "iat", "exp", "alg":
			return OAuthBearerToken{}, fmt.Errorf("%s: the %q claim is set by the login itself", k, name)
		}
		if _, dup := claims[name]; dup {
			return OAuthBearerToken{}, fmt.Errorf("claim %q given twice", name)
		}
		claims[name] = val
	}
	if s, ok := claims[principal].(string); !ok || s == "" {
		return OAuthBearerToken{}, fmt.Errorf("unsecuredLoginStringClaim_%s: the principal claim is required", principal)
	}
	ext, err := jaasExtensions(opts, "unsecuredLoginExtension_")
	if err != nil {
		return OAuthBearerToken{}, err
	}
	iat := now.Unix()
	exp := iat + int64(math.Ceil(lifetime))
	claims["iat"], claims["exp"] = iat, exp
	payload, err := json.Marshal(claims)
	if err != nil {
		return OAuthBearerToken{}, err
	}
	enc := base64.RawURLEncoding
	jwt := enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(payload) + "."
	return OAuthBearerToken{Token: jwt, Issued: time.Unix(iat, 0), Expiry: time.Unix(exp, 0), Extensions: ext}, nil
}

// jwtToken reads iat and exp from a JWT's claims (without checking its
// signature: that is the broker's work) and makes it a token; expiresIn,
// when positive, bounds the expiry too (an endpoint's expires_in).
func jwtToken(jwt string, expiresIn time.Duration) (OAuthBearerToken, error) {
	now := time.Now()
	tok := OAuthBearerToken{Token: jwt}
	if expiresIn > 0 {
		tok.Expiry = now.Add(expiresIn)
	}
	parts := strings.Split(jwt, ".")
	var claims struct {
		Exp *float64 `json:"exp"`
		Iat *float64 `json:"iat"`
	}
	if len(parts) == 3 {
		payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
		if err == nil && json.Unmarshal(payload, &claims) == nil {
			if claims.Exp != nil && *claims.Exp > 0 && *claims.Exp < math.MaxInt64/1e9 {
				exp := time.Unix(0, int64(*claims.Exp*1e9))
				if tok.Expiry.IsZero() || exp.Before(tok.Expiry) {
					tok.Expiry = exp
				}
			}
			if claims.Iat != nil && *claims.Iat > 0 && *claims.Iat < math.MaxInt64/1e9 {
				tok.Issued = time.Unix(0, int64(*claims.Iat*1e9))
			}
		}
	}
	if tok.Expiry.IsZero() {
		return tok, errors.New("the token has no expiry: neither expires_in nor a JWT exp claim")
	}
	return tok, nil
}

// tokenEndpoint fetches access tokens with the OAuth 2 client_credentials
// grant (RFC 6749 section 4.4).
type tokenEndpoint struct {
	url, clientID, secret, scope string
	urlencode                    bool
	extensions                   map[string]string
	client                       *http.Client
}

// maxTokenResponse bounds what is read of a token endpoint's answer.
const maxTokenResponse = 1 << 20

func (e *tokenEndpoint) token(ctx context.Context) (OAuthBearerToken, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if e.scope != "" {
		form.Set("scope", e.scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, strings.NewReader(form.Encode()))
	if err != nil {
		return OAuthBearerToken{}, err
	}
	id, secret := e.clientID, e.secret
	if e.urlencode {
		id, secret = url.QueryEscape(id), url.QueryEscape(secret)
	}
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return OAuthBearerToken{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return OAuthBearerToken{}, fmt.Errorf("token endpoint %s: reading the answer: %w", e.url, err)
	}
	if resp.StatusCode/100 != 2 {
		return OAuthBearerToken{}, fmt.Errorf("token endpoint %s: %s: %s", e.url, resp.Status, snippet(body))
	}
	var answer struct {
		AccessToken string   `json:"access_token"`
		ExpiresIn   *float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return OAuthBearerToken{}, fmt.Errorf("token endpoint %s: the answer is not JSON: %v", e.url, err)
	}
	if answer.AccessToken == "" {
		return OAuthBearerToken{}, fmt.Errorf("token endpoint %s: no access_token in the answer", e.url)
	}
	var in time.Duration
	if answer.ExpiresIn != nil {
		if f := *answer.ExpiresIn; f > 0 && f < math.MaxInt32 {
			in = time.Duration(f * float64(time.Second))
		}
	}
	tok, err := jwtToken(answer.AccessToken, in)
	if err != nil {
		return OAuthBearerToken{}, fmt.Errorf("token endpoint %s: %w", e.url, err)
	}
	tok.Extensions = e.extensions
	return tok, nil
}

// snippet is the start of a body for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}

// mskIAMFromEnv is the AWS_MSK_IAM mechanism of the properties: the IAM
// login module with credentials from the standard environment variables,
// read at every authentication so that rotated credentials are picked up.
func mskIAMFromEnv(jc jaasConfig, handler string) (sasl.Mechanism, error) {
	for _, k := range []string{"awsProfileName", "awsRoleArn", "awsRoleSessionName", "awsStsRegion", "awsRoleExternalId",
		"awsRoleAccessKeyId", "awsRoleSecretAccessKey", "awsRoleSessionToken"} {
		if _, ok := jc.opts[k]; ok {
			return nil, fmt.Errorf("sasl.jaas.config: %s needs the AWS SDK's credential providers, which kprod does not include: use WithAWSMSKIAM with credentials from the SDK", k)
		}
	}
	if handler != "" && handler != mskClientHandler {
		return nil, fmt.Errorf("sasl.client.callback.handler.class: only %s is known for AWS_MSK_IAM", mskClientHandler)
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		return nil, errors.New("sasl.mechanism=AWS_MSK_IAM: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set in the environment (other credential providers: use WithAWSMSKIAM)")
	}
	return newAWSMechanism(func(context.Context) (AWSCredentials, error) {
		cr := AWSCredentials{
			AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		}
		if cr.AccessKeyID == "" || cr.SecretAccessKey == "" {
			return cr, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are no longer set")
		}
		return cr, nil
	}), nil
}
