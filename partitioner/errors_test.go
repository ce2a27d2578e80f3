package partitioner

import (
	"errors"
	"math"
	"testing"
)

func TestCheckPartition(t *testing.T) {
	tests := []struct {
		partition int32
		n         int
		want      error
	}{
		{0, 1, nil},
		{5, 6, nil},
		{6, 6, ErrInvalidPartition},
		{-1, 6, ErrInvalidPartition},
		{NoPartition, 3, ErrInvalidPartition},
		{math.MaxInt32, math.MaxInt32, ErrInvalidPartition},
		{0, 0, ErrNoPartitions},
		{0, -3, ErrNoPartitions},
	}
	for _, tt := range tests {
		err := CheckPartition(tt.partition, tt.n)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("CheckPartition(%d, %d) = %v, want %v", tt.partition, tt.n, err, tt.want)
		}
	}
}
