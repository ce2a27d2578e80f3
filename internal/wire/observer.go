package wire

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Observer sees a connection's requests after its handshake (the dial's
// ApiVersions and SASL exchanges are not reported), for the producer's
// hooks. Every
// request passed to Send gets one Sent call and then exactly one Answered
// call, whatever its outcome (answered, failed to write, timed out, or
// lost with its connection), so the two balance. Sent runs on the
// sending goroutine, Answered on whichever goroutine completes the
// request; both must be fast and must not call back into the Conn.
type Observer interface {
	Sent(node int32, addr string, key int16, bytes int)
	Answered(node int32, addr string, key int16, latency, throttle time.Duration, err error)
}

// observe reports req to obs and returns done wrapped to report its answer.
func (c *Conn) observe(obs Observer, key int16, bytes int, noResponse bool, done func(kmsg.Response, error)) func(kmsg.Response, error) {
	obs.Sent(c.node, c.addr, key, bytes)
	start := time.Now()
	return func(resp kmsg.Response, err error) {
		var throttle time.Duration
		if t, ok := resp.(kmsg.ThrottleResponse); ok && err == nil && !noResponse {
			ms, _ := t.Throttle()
			throttle = time.Duration(ms) * time.Millisecond
		}
		obs.Answered(c.node, c.addr, key, time.Since(start), throttle, err)
		done(resp, err)
	}
}
