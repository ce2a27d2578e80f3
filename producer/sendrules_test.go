package producer

import (
	"testing"

	"github.com/kprod/kprod/internal/wire"
)

// TestMayGoRules pins the rules that keep a partition's sequences in order
// and its resends inside the broker's window of recent batches.
func TestMayGoRules(t *testing.T) {
	connA, connB := new(wire.Conn), new(wire.Conn)
	s := &sender{cfg: &config{maxInFlight: 5, idempotence: true}}
	inflight := func(n int, resend bool, conn *wire.Conn) *partition {
		p := &partition{seq: partSeq{confirmed: true}}
		for i := range n {
			rb := &recBatch{order: uint64(i), sends: 1, conn: conn}
			if resend && i == 0 {
				rb.sends = 2
			}
			p.sent = append(p.sent, rb)
		}
		return p
	}
	fresh := &recBatch{order: 100}
	again := &recBatch{order: 100, sends: 1, seq: 7}
	for _, tc := range []struct {
		name string
		p    *partition
		rb   *recBatch
		conn *wire.Conn
		want bool
	}{
		{"nothing in flight: a new batch goes", inflight(0, false, connA), fresh, connA, true},
		{"nothing in flight: a resend goes", inflight(0, false, connA), again, connA, true},
		{"a new batch joins batches in flight", inflight(3, false, connA), fresh, connA, true},
		{"a resend waits for everything before it", inflight(1, false, connA), again, connA, false},
		{"nothing joins a resend in flight", inflight(1, true, connA), fresh, connA, false},
		{"at most max.in.flight unanswered", inflight(5, false, connA), fresh, connA, false},
		{"not on a second connection", inflight(1, false, connA), fresh, connB, false},
		{"one at a time until confirmed", func() *partition { p := inflight(1, false, connA); p.seq.confirmed = false; return p }(), fresh, connA, false},
	} {
		if got := s.mayGo(tc.p, tc.rb, tc.conn); got != tc.want {
			t.Errorf("%s: mayGo = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSettleDoubt: once a queued batch is known absent from the log, the
// batches behind it cannot be in it either (the broker appends a producer's
// batches of a partition only in sequence order).
func TestSettleDoubt(t *testing.T) {
	mk := func(seq int32, maybe bool) *recBatch { return &recBatch{seq: seq, maybeApplied: maybe} }
	for _, tc := range []struct {
		name  string
		queue []*recBatch
		want  []bool
	}{
		{"doubtful prefix kept", []*recBatch{mk(0, true), mk(5, true), mk(-1, false)}, []bool{true, true, false}},
		{"absent stamped batch clears those behind", []*recBatch{mk(0, true), mk(5, false), mk(9, true)}, []bool{true, false, false}},
		{"unstamped split part clears those behind", []*recBatch{mk(-1, false), mk(9, true)}, []bool{false, false}},
	} {
		settleDoubtLocked(tc.queue)
		for i, rb := range tc.queue {
			if rb.maybeApplied != tc.want[i] {
				t.Errorf("%s: batch %d maybeApplied = %v, want %v", tc.name, i, rb.maybeApplied, tc.want[i])
			}
		}
	}
}
