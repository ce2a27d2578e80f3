package wire

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// observed records what an Observer is told.
type observed struct {
	mu       sync.Mutex
	sent     int
	answered []observedAnswer
}

type observedAnswer struct {
	key               int16
	latency, throttle time.Duration
	err               error
}

func (o *observed) Sent(_ int32, _ string, _ int16, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if bytes <= 0 {
		panic("a request of no bytes")
	}
	o.sent++
}

func (o *observed) Answered(_ int32, _ string, key int16, latency, throttle time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answered = append(o.answered, observedAnswer{key, latency, throttle, err})
}

func (o *observed) counts() (int, []observedAnswer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent, append([]observedAnswer(nil), o.answered...)
}

// TestObserverBalances: every request sent is answered to the observer
// exactly once — answered with its latency and throttle, timed out, or
// failed with its connection — and the handshake is not reported.
func TestObserverBalances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		f := &fakeBroker{handle: answering(func(req kmsg.Request, corr int32) [][]byte {
			n++
			if n > 1 {
				return nil // only the first request is answered
			}
			resp := req.ResponseKind().(*kmsg.MetadataResponse)
			resp.ThrottleMillis = 40
			return [][]byte{respond(corr, resp)}
		})}
		obs := new(observed)
		c, err := pipeConn(t, f, &Config{Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		if sent, _ := obs.counts(); sent != 0 {
			t.Fatalf("the handshake was reported: %d requests", sent)
		}
		var rec errRecorder
		time.Sleep(time.Millisecond) // a clock that moves, so latencies are measurable
		c.Send(kmsg.NewPtrMetadataRequest(), time.Second, rec.done)
		c.Send(kmsg.NewPtrMetadataRequest(), time.Second, rec.done) // times out
		c.Send(kmsg.NewPtrMetadataRequest(), 0, rec.done)           // dies with the conn
		time.Sleep(2 * time.Second)
		synctest.Wait()
		c.Send(kmsg.NewPtrMetadataRequest(), 0, rec.done) // on a dead conn: fails before writing

		sent, answered := obs.counts()
		if sent != 4 || len(answered) != 4 || len(rec.get()) != 4 {
			t.Fatalf("%d sent, %d answered to the observer, %d done calls; want 4 each", sent, len(answered), len(rec.get()))
		}
		first := answered[0]
		if first.err != nil || first.throttle != 40*time.Millisecond || first.key != kmsg.Metadata.Int16() {
			t.Fatalf("first answer %+v", first)
		}
		if !errors.Is(answered[1].err, ErrRequestTimeout) || answered[1].latency != time.Second {
			t.Fatalf("second answer %+v; want a timeout after 1s", answered[1])
		}
		for _, a := range answered[2:] {
			if !errors.Is(a.err, ErrClosed) {
				t.Fatalf("answer %+v; want ErrClosed", a)
			}
		}
	})
}
