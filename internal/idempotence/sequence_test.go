package idempotence

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestNextSequenceWraps(t *testing.T) {
	for _, tc := range []struct {
		seq  int32
		n    int
		want int32
	}{
		{0, 1, 1},
		{0, 100, 100},
		{math.MaxInt32 - 1, 1, math.MaxInt32},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32 - 2, 5, 2},
		{math.MaxInt32, 0, math.MaxInt32},
	} {
		if got := NextSequence(tc.seq, tc.n); got != tc.want {
			t.Errorf("NextSequence(%d, %d) = %d, want %d", tc.seq, tc.n, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err     error
		earlier bool
		want    Action
	}{
		{kerr.DuplicateSequenceNumber, false, Succeed},
		{kerr.OutOfOrderSequenceNumber, true, Retry},
		{kerr.OutOfOrderSequenceNumber, false, Reset},
		{kerr.UnknownProducerID, false, Reset},
		{kerr.InvalidProducerEpoch, false, Fatal},
		{kerr.ProducerFenced, false, Fatal},
		{kerr.ClusterAuthorizationFailed, false, Fatal},
		{kerr.NotLeaderForPartition, false, Retry},
		{kerr.RequestTimedOut, true, Retry},
		{kerr.InvalidRecord, false, Fail},
		{fmt.Errorf("wrapped: %w", kerr.DuplicateSequenceNumber), false, Succeed},
		{errors.New("not a broker error"), false, Fail},
	} {
		if got := Classify(tc.err, tc.earlier); got != tc.want {
			t.Errorf("Classify(%v, %v) = %d, want %d", tc.err, tc.earlier, got, tc.want)
		}
	}
}

func TestIDValid(t *testing.T) {
	if None.Valid() || !(ID{ProducerID: 0, Epoch: 0}).Valid() {
		t.Fatal("Valid is wrong")
	}
}
