package kprodotel

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/producer"
)

// errorTypes names the producer's errors for error.type, most specific
// first: an error wrapping several sentinels (ErrBufferFull and
// ErrMaxBlock, ErrUnknownTopic and ErrMaxBlock, ErrFenced and ErrFatal)
// takes the first name that matches.
var errorTypes = []struct {
	err  error
	name string
}{
	{producer.ErrRecordTooLarge, "record_too_large"},
	{producer.ErrInvalidRecord, "invalid_record"},
	{producer.ErrUnknownTopic, "unknown_topic"},
	{producer.ErrBufferFull, "buffer_full"},
	{producer.ErrMaxBlock, "max_block"},
	{producer.ErrDeliveryTimeout, "delivery_timeout"},
	{producer.ErrRetriesExhausted, "retries_exhausted"},
	{producer.ErrClosed, "closed"},
	{producer.ErrAborted, "aborted"},
	{producer.ErrFenced, "fenced"},
	{producer.ErrAbortable, "abortable"},
	{producer.ErrInvalidState, "invalid_state"},
	{producer.ErrUnsupported, "unsupported"},
	{producer.ErrTLS, "tls"},
	{producer.ErrSASL, "sasl"},
	{producer.ErrFatal, "fatal"},
	{producer.ErrInvalidConfig, "invalid_config"},
	{context.DeadlineExceeded, "context_deadline_exceeded"},
	{context.Canceled, "context_canceled"},
}

// errorType is the error.type of err: the producer's sentinel it wraps
// (see errorTypes), else the Kafka error code a broker answered with (such
// as "MESSAGE_TOO_LARGE"), else "_OTHER", as the semantic conventions ask
// for an error of no known class. Its values are few, fit for a metric
// attribute.
func errorType(err error) string {
	for _, e := range errorTypes {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return "_OTHER"
}
