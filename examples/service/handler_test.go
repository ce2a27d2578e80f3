package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/producer"
	"github.com/kprod/kprod/producer/producertest"
)

// Unit tests: the handler against producertest.MockProducer, no cluster.

func post(h http.Handler, target, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, target, strings.NewReader(body)))
	return w
}

func TestHandlerAnswers202AfterTheAck(t *testing.T) {
	mock := producertest.NewMockProducer(producertest.WithPartitions("events", 3))
	h := &Handler{Producer: mock, Topic: "events"}

	w := post(h, "/events?key=user-1", "signed up")
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d (%s), want 202", w.Code, w.Body)
	}
	var got accepted
	if err := json.NewDecoder(w.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	sent := mock.History()
	if len(sent) != 1 {
		t.Fatalf("%d records sent, want 1", len(sent))
	}
	s := sent[0]
	if string(s.Record.Key) != "user-1" || string(s.Record.Value) != "signed up" || s.Record.Topic != "events" {
		t.Fatalf("sent %+v", s.Record)
	}
	if got != (accepted{Topic: "events", Partition: s.Partition, Offset: s.Offset}) {
		t.Fatalf("answered %+v, the record is at %d@%d", got, s.Partition, s.Offset)
	}

	// The key may come in a header instead.
	req := httptest.NewRequest(http.MethodPost, "/events", strings.NewReader("x"))
	req.Header.Set("X-Event-Key", "user-2")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted || string(mock.History()[1].Record.Key) != "user-2" {
		t.Fatalf("status %d, key %q", w.Code, mock.History()[1].Record.Key)
	}
}

// The handler answers only once the record is acknowledged.
func TestHandlerWaitsForTheAck(t *testing.T) {
	mock := producertest.NewMockProducer(producertest.ManualCompletion())
	h := &Handler{Producer: mock, Topic: "events"}
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- post(h, "/events", "e") }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mock.WaitPending(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-done:
		t.Fatalf("answered %d before the record was acknowledged", w.Code)
	case <-time.After(20 * time.Millisecond):
	}
	mock.CompleteNext()
	if w := <-done; w.Code != http.StatusAccepted {
		t.Fatalf("status %d (%s), want 202", w.Code, w.Body)
	}
}

func TestHandlerProduceErrorsAre503(t *testing.T) {
	cases := map[string]error{
		"delivery timeout":   producer.ErrDeliveryTimeout,
		"buffer full":        producer.ErrBufferFull,
		"broker error":       kerr.NotEnoughReplicas,
		"retries exhausted":  errors.Join(producer.ErrRetriesExhausted, kerr.NotLeaderForPartition),
		"producer is closed": producer.ErrClosed,
	}
	for name, cause := range cases {
		t.Run(name, func(t *testing.T) {
			mock := producertest.NewMockProducer()
			h := &Handler{Producer: mock, Topic: "events"}
			mock.FailNext(1, cause)
			w := post(h, "/events", "e")
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q: want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
			}
			if w := post(h, "/events", "e"); w.Code != http.StatusAccepted {
				t.Fatalf("the next request: status %d, want 202", w.Code)
			}
		})
	}
}

// A broker error answered while the request waits (manual completion).
func TestHandlerBrokerErrorWhileWaitingIs503(t *testing.T) {
	mock := producertest.NewMockProducer(producertest.ManualCompletion())
	h := &Handler{Producer: mock, Topic: "events"}
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- post(h, "/events", "e") }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mock.WaitPending(ctx, 1); err != nil {
		t.Fatal(err)
	}
	mock.ErrorNext(kerr.PolicyViolation)
	if w := <-done; w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
}

func TestHandlerAckTimeoutIs503(t *testing.T) {
	mock := producertest.NewMockProducer(producertest.ManualCompletion())
	h := &Handler{Producer: mock, Topic: "events", Timeout: 30 * time.Millisecond}
	start := time.Now()
	w := post(h, "/events", "e")
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answered after %v", d)
	}
	if mock.Pending() != 1 {
		t.Fatalf("pending %d: the record is still on its way", mock.Pending())
	}
}

func TestHandlerRefusedRecordsAre400(t *testing.T) {
	mock := producertest.NewMockProducer(producertest.WithMaxRequestSize(200))
	if w := post(&Handler{Producer: mock, Topic: "events"}, "/events", strings.Repeat("x", 500)); w.Code != http.StatusBadRequest {
		t.Fatalf("record over max.request.size: status %d, want 400", w.Code)
	}
	if w := post(&Handler{Producer: mock, Topic: "bad topic"}, "/events", "e"); w.Code != http.StatusBadRequest {
		t.Fatalf("invalid topic: status %d, want 400", w.Code)
	}
	if w := post(&Handler{Producer: mock, Topic: "events"}, "/events", strings.Repeat("x", maxBody+1)); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("body over %d bytes: status %d, want 413", maxBody, w.Code)
	}
	w := httptest.NewRecorder()
	(&Handler{Producer: mock, Topic: "events"}).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/events", nil))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
		t.Fatalf("GET: status %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	for _, s := range mock.History() {
		if s.Err == nil {
			t.Fatalf("a refused request produced %+v", s)
		}
	}
}

// serveMock runs serve on a loopback port with mock as the producer until
// the returned stop is called; stop returns serve's result.
func serveMock(t *testing.T, mock *producertest.MockProducer, grace time.Duration) (url string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, &Handler{Producer: mock, Topic: "events"}, mock, grace, log.New(io.Discard, "", 0))
	}()
	return "http://" + ln.Addr().String() + "/events", func() error { cancel(); return <-done }
}

// Shutdown waits for the request in progress, whose record is acknowledged
// meanwhile, then closes the producer.
func TestServeShutdownFinishesRequestsInProgress(t *testing.T) {
	mock := producertest.NewMockProducer(producertest.ManualCompletion())
	url, stop := serveMock(t, mock, 5*time.Second)
	status := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "text/plain", strings.NewReader("e"))
		if err != nil {
			t.Error(err)
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mock.WaitPending(ctx, 1); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(20 * time.Millisecond) // shutdown has begun and waits for the request
	if mock.Closed() {
		t.Fatal("the producer was closed before the request in progress finished")
	}
	mock.CompleteNext()
	if code := <-status; code != http.StatusAccepted {
		t.Fatalf("request in progress: status %d, want 202", code)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !mock.Closed() {
		t.Fatal("the producer was not closed")
	}
}

// When the deadline passes first, the request still waiting is answered 503
// (closing the producer fails its record) and serve returns within the
// deadline, with an error saying so.
func TestServeShutdownDeadline(t *testing.T) {
	mock := producertest.NewMockProducer(producertest.ManualCompletion())
	const grace = 200 * time.Millisecond
	url, stop := serveMock(t, mock, grace)
	status := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "text/plain", strings.NewReader("e"))
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mock.WaitPending(ctx, 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := stop()
	if took := time.Since(start); took > grace+2*time.Second {
		t.Fatalf("shutdown took %v with a deadline of %v", took, grace)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("serve: %v, want the deadline's error", err)
	}
	if code := <-status; code != http.StatusServiceUnavailable && code != 0 {
		t.Fatalf("request in progress: status %d, want 503 (or the connection closed)", code)
	}
	if h := mock.History(); !errors.Is(h[0].Err, producer.ErrClosed) {
		t.Fatalf("the pending record: %v, want ErrClosed", h[0].Err)
	}
}
