package kafkatest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

// frontProduce writes n records through the front with kgo and mech and
// returns the produce error of the first failure.
func frontProduce(t *testing.T, f *SASLFront, topic string, n int, mech sasl.Mechanism) error {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.Addrs()...), kgo.SASL(mech), kgo.RequestRetries(0),
		kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(2*time.Second), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			return err
		}
	}
	return nil
}

func TestSASLFrontOAuth(t *testing.T) {
	fake := NewFake(t, 2)
	fake.CreateTopic(t, "front", 2, 1, nil)
	f := NewSASLFront(t, fake.Addrs(), SASLFrontConfig{
		OAuth: func(tok string, ext map[string]string) (time.Time, error) {
			if tok != "good" || ext["tenant"] != "t1" {
				return time.Time{}, errors.New("unknown token")
			}
			return time.Now().Add(time.Hour), nil
		},
	})
	good := oauth.Auth{Token: "good", Extensions: map[string]string{"tenant": "t1"}}.AsMechanism()
	if err := frontProduce(t, f, "front", 10, good); err != nil {
		t.Fatal(err)
	}
	// The answers named the front: kgo reached the leaders through it.
	if f.Auths("good") < 2 {
		t.Fatalf("%d authentications with the good token; want one per broker at least", f.Auths("good"))
	}
	if got := ReadRecords(t, fake.Addrs(), "front", 10, ReadOptions{Settle: time.Millisecond}); len(got) != 10 {
		t.Fatalf("read %d records", len(got))
	}
	err := frontProduce(t, f, "front", 1, oauth.Auth{Token: "bad"}.AsMechanism())
	if err == nil {
		t.Fatal("a bad token was accepted")
	}
	if fails := f.Failures(); len(fails) == 0 || !strings.Contains(fails[0], "invalid token") {
		t.Fatalf("failures %q", fails)
	}
}

func TestSASLFrontIAM(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	fake := NewFake(t, 1)
	fake.CreateTopic(t, "front", 1, 1, nil)
	f := NewSASLFront(t, fake.Addrs(), SASLFrontConfig{
		AWSSecret: func(id string) (string, bool) { return "s3cret", id == "AKID" },
		AWSRegion: "eu-west-1",
	})
	mech := func(secret string) sasl.Mechanism {
		return aws.Auth{AccessKey: "AKID", SecretKey: secret, SessionToken: "st"}.AsManagedStreamingIAMMechanism()
	}
	if err := frontProduce(t, f, "front", 3, mech("s3cret")); err != nil {
		t.Fatal(err)
	}
	if f.Auths("AKID") == 0 {
		t.Fatal("no authentication counted")
	}
	if err := frontProduce(t, f, "front", 1, mech("guess")); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	if fails := f.Failures(); len(fails) == 0 || fails[0] != "signature does not match" {
		t.Fatalf("failures %q", fails)
	}

	// A payload signed long ago is refused before its signature is read.
	_, msg, err := mech("s3cret").Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]string
	if err := json.Unmarshal(msg, &p); err != nil {
		t.Fatal(err)
	}
	p["x-amz-date"] = time.Now().Add(-time.Hour).UTC().Format("20060102T150405Z")
	stale, _ := json.Marshal(p)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092}
	if _, reason := f.checkIAM(stale, local); !strings.Contains(reason, "from now") {
		t.Fatalf("a stale date: %q", reason)
	}
	if _, reason := f.checkIAM(msg, local); reason != "" {
		t.Fatalf("the fresh payload: %q", reason)
	}
	if _, reason := f.checkIAM([]byte("{"), local); reason == "" {
		t.Fatal("a malformed payload was accepted")
	}
}

// FuzzSASLFrontOAuth: any client message is answered, never a panic.
func FuzzSASLFrontOAuth(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer tok\x01\x01"))
	f.Add([]byte("n,a=x,\x01auth=Bearer tok\x01k=v\x01\x01"))
	f.Add([]byte("\x01"))
	front := &SASLFront{cfg: SASLFrontConfig{OAuth: func(string, map[string]string) (time.Time, error) {
		return time.Now().Add(time.Minute), nil
	}, AWSSecret: func(string) (string, bool) { return "s", true }, AWSMaxSkew: time.Minute}}
	f.Fuzz(func(t *testing.T, msg []byte) {
		front.checkOAuth(msg)
		front.checkIAM(msg, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		requestBody(append(make([]byte, 8), msg...), true)
		skipTags(msg)
	})
}

// rawRequest writes req on conn with correlation id corr and reads the
// answer into resp.
func rawRequest(t *testing.T, conn net.Conn, corr int32, req kmsg.Request, resp kmsg.Response) error {
	t.Helper()
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	if err := writeFrame(conn, req.AppendTo(b)); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	frame, err := readFrame(conn)
	if err != nil {
		return err
	}
	body := frame[4:]
	if resp.IsFlexible() {
		if body, err = skipTags(body); err != nil {
			return err
		}
	}
	return resp.ReadFrom(body)
}

// TestSASLFrontSessionExpiry: the answer carries the token's remaining
// life as the session lifetime; a request after it ends closes the
// connection, while one before it passes.
func TestSASLFrontSessionExpiry(t *testing.T) {
	fake := NewFake(t, 1)
	f := NewSASLFront(t, fake.Addrs(), SASLFrontConfig{
		OAuth: func(tok string, _ map[string]string) (time.Time, error) {
			return time.Now().Add(500 * time.Millisecond), nil
		},
	})
	conn, err := net.Dial("tcp", f.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hreq := kmsg.NewPtrSASLHandshakeRequest()
	hreq.Version, hreq.Mechanism = 1, "OAUTHBEARER"
	hresp := kmsg.NewPtrSASLHandshakeResponse()
	hresp.Version = 1
	if err := rawRequest(t, conn, 1, hreq, hresp); err != nil || hresp.ErrorCode != 0 {
		t.Fatalf("handshake: %v, code %d", err, hresp.ErrorCode)
	}
	areq := kmsg.NewPtrSASLAuthenticateRequest()
	areq.Version, areq.SASLAuthBytes = 2, []byte("n,,\x01auth=Bearer tok\x01\x01")
	aresp := kmsg.NewPtrSASLAuthenticateResponse()
	aresp.Version = 2
	if err := rawRequest(t, conn, 2, areq, aresp); err != nil || aresp.ErrorCode != 0 {
		t.Fatalf("authenticate: %v, code %d", err, aresp.ErrorCode)
	}
	if l := aresp.SessionLifetimeMillis; l <= 0 || l > 500 {
		t.Fatalf("session lifetime %d ms; want at most the token's 500", l)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	mresp := kmsg.NewPtrMetadataResponse()
	mresp.Version = 12
	if err := rawRequest(t, conn, 3, md, mresp); err != nil {
		t.Fatalf("metadata within the session: %v", err)
	}
	if len(mresp.Brokers) != 1 || net.JoinHostPort(mresp.Brokers[0].Host, strconv.Itoa(int(mresp.Brokers[0].Port))) != f.Addrs()[0] {
		t.Fatalf("metadata names %+v, not the front %s", mresp.Brokers, f.Addrs()[0])
	}
	time.Sleep(600 * time.Millisecond)
	if err := rawRequest(t, conn, 4, md, mresp); err == nil {
		t.Fatal("a request after the session ended was answered")
	}
	if f.Expired() != 1 {
		t.Fatalf("expired %d", f.Expired())
	}
}
