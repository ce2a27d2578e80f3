package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/kprod/kprod/producer"
)

// maxBody bounds an event: Kafka's default max.request.size is 1 MiB.
const maxBody = 1 << 20

// Handler produces the body of each POST to Topic and answers once the
// record is acknowledged.
type Handler struct {
	Producer producer.Client // a *producer.Producer, or a producertest.MockProducer in tests
	Topic    string
	// Timeout bounds how long a request waits for its acknowledgement
	// (default 10s). When it passes the answer is 503, but the record may
	// still be written: a client that retries may write it twice.
	Timeout time.Duration
}

// accepted is the body of a 202 answer.
type accepted struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST an event", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "event too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the event: "+err.Error(), http.StatusBadRequest)
		return
	}
	rec := &producer.Record{Topic: h.Topic, Value: body}
	if key := r.URL.Query().Get("key"); key != "" {
		rec.Key = []byte(key)
	} else if key := r.Header.Get("X-Event-Key"); key != "" {
		rec.Key = []byte(key)
	}

	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	md, err := h.Producer.SendSync(ctx, rec)
	switch {
	case err == nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(accepted{Topic: md.Topic, Partition: md.Partition, Offset: md.Offset})
	case errors.Is(err, producer.ErrInvalidRecord), errors.Is(err, producer.ErrRecordTooLarge):
		// Sending it again would fail again.
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		// A broker error, a timeout, a producer closing: try again later.
		w.Header().Set("Retry-After", "1")
		http.Error(w, "event not stored: "+err.Error(), http.StatusServiceUnavailable)
	}
}
