package loadgen

import "time"

// minSleep is the shortest pause the throttle takes: being ahead of schedule
// by less than this is allowed, so the pacing sends small bursts instead of
// paying for a timer per record.
const minSleep = 500 * time.Microsecond

// throttle paces records to a fixed rate from a start time. Being behind is
// never made up by a burst larger than the records already due.
type throttle struct {
	perRecord float64 // ns between records; 0 means no cap
	start     time.Time
}

func newThrottle(rate float64, start time.Time) throttle {
	if rate <= 0 {
		return throttle{start: start}
	}
	return throttle{perRecord: 1e9 / rate, start: start}
}

// delay is how long record i (0-based) must wait at time now.
func (t throttle) delay(i int64, now time.Time) time.Duration {
	if t.perRecord == 0 {
		return 0
	}
	due := t.start.Add(time.Duration(float64(i) * t.perRecord))
	if d := due.Sub(now); d >= minSleep {
		return d
	}
	return 0
}

// wait blocks until record i may be sent.
func (t throttle) wait(i int64) {
	if t.perRecord == 0 {
		return
	}
	if d := t.delay(i, time.Now()); d > 0 {
		time.Sleep(d)
	}
}
