package kprodotel

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kprod/kprod/producer"
)

func TestErrorType(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: %w: no memory", producer.ErrBufferFull, producer.ErrMaxBlock), "buffer_full"},
		{fmt.Errorf("%w: %w", producer.ErrUnknownTopic, producer.ErrMaxBlock), "unknown_topic"},
		{fmt.Errorf("%w: waited", producer.ErrMaxBlock), "max_block"},
		{fmt.Errorf("%w: %w", producer.ErrFenced, producer.ErrFatal), "fenced"},
		{fmt.Errorf("%w: last: %w", producer.ErrRetriesExhausted, kerr.NotEnoughReplicas), "retries_exhausted"},
		{fmt.Errorf("partition 0: %w", kerr.MessageTooLarge), "MESSAGE_TOO_LARGE"},
		{fmt.Errorf("wait: %w", context.Canceled), "context_canceled"},
		{errors.New("something else"), "_OTHER"},
	}
	for _, c := range cases {
		if got := errorType(c.err); got != c.want {
			t.Errorf("errorType(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
