package kafkatest

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestLog records which requests a client sends, at which version, by
// reading the request headers on the connections it dials: give its Dial to
// the client (producer.WithDialer) and read Versions or Count afterwards.
// It sees the bytes on the wire, not what the client believes it sent, and
// works for plaintext connections only (not TLS or after SASL framing).
type RequestLog struct {
	mu     sync.Mutex
	counts map[keyVersion]int
	order  []int16 // keys in the order written; kept for LossyDialer only
	keep   bool
}

type keyVersion struct{ key, version int16 }

// Dial dials addr and records the requests written on the connection.
func (l *RequestLog) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &loggedConn{Conn: c, log: l}, nil
}

func (l *RequestLog) add(key, version int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[keyVersion]int{}
	}
	l.counts[keyVersion{key, version}]++
	if l.keep {
		l.order = append(l.order, key)
	}
}

// total is how many request headers were read (with keep set).
func (l *RequestLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.order)
}

// keyAt is the key of the i-th request read (with keep set).
func (l *RequestLog) keyAt(i int) int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order[i]
}

// Versions returns, for each request key sent, the versions it was sent at
// (sorted).
func (l *RequestLog) Versions() map[int16][]int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int16][]int16{}
	for kv := range l.counts {
		out[kv.key] = append(out[kv.key], kv.version)
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// Count is how many requests of key were sent, at any version.
func (l *RequestLog) Count(key int16) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for kv, c := range l.counts {
		if kv.key == key {
			n += c
		}
	}
	return n
}

// String lists the requests sent, e.g. "ApiVersions v4 ×3, Produce v13 ×40".
func (l *RequestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for _, kv := range slices.SortedFunc(maps.Keys(l.counts), func(a, b keyVersion) int {
		if a.key != b.key {
			return int(a.key - b.key)
		}
		return int(a.version - b.version)
	}) {
		parts = append(parts, fmt.Sprintf("%s v%d ×%d", kmsg.NameForKey(kv.key), kv.version, l.counts[kv]))
	}
	return strings.Join(parts, ", ")
}

// loggedConn scans what is written for request frames: a 4-byte size, then
// the request header's api key and version.
type loggedConn struct {
	net.Conn
	log *RequestLog

	mu   sync.Mutex // writes may come from more than one goroutine
	head [8]byte    // the frame's size, key and version as they arrive
	have int        // bytes of head filled
	skip int64      // bytes of the current frame's body still to pass
}

func (c *loggedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.scan(p[:n])
	return n, err
}

func (c *loggedConn) scan(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(p) > 0 {
		if c.skip > 0 {
			k := min(int64(len(p)), c.skip)
			c.skip -= k
			p = p[k:]
			continue
		}
		k := copy(c.head[c.have:], p)
		c.have += k
		p = p[k:]
		if c.have < len(c.head) {
			return
		}
		size := int64(int32(binary.BigEndian.Uint32(c.head[0:4])))
		key := int16(binary.BigEndian.Uint16(c.head[4:6]))
		version := int16(binary.BigEndian.Uint16(c.head[6:8]))
		c.log.add(key, version)
		c.have = 0
		c.skip = max(size-4, 0) // the size counts the key and version
	}
}

// LossyDialer dials the broker and loses answers: of the requests of key
// Key, every Every-th one, and the next one after each Arm, is written and
// done by the broker, but its response is never read — the connection is
// closed the moment that response arrives, after every earlier response was
// passed on. The client sees a connection that died after its request left:
// the request may or may not have been done, as after a real network fault,
// except that here it always was. For clients that expect a response to
// every request of Key (not Produce with acks=0); plaintext only.
type LossyDialer struct {
	Key   int16
	Every int

	mu      sync.Mutex
	n       int  // requests of Key written
	armed   bool // the next request of Key loses its answer
	dropped int
}

// Arm makes the next request of Key written, on any connection, lose its
// answer, whatever Every says: a test picks the moment of the fault.
func (d *LossyDialer) Arm() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed = true
}

// Dropped is how many responses were lost so far: each counts once its
// response arrived and the connection was closed in its place.
func (d *LossyDialer) Dropped() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// Dial dials addr through a connection that loses answers.
func (d *LossyDialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	lc := &lossyConn{Conn: c, d: d}
	lc.reqs.log = &RequestLog{keep: true}
	lc.reqs.Conn = c
	return lc, nil
}

// doomed counts a request of key written and says whether its response is
// to be lost.
func (d *LossyDialer) doomed(key int16) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if key != d.Key {
		return false
	}
	d.n++
	if d.armed {
		d.armed = false
		return true
	}
	return d.Every > 0 && d.n%d.Every == 0
}

// lost counts a response lost.
func (d *LossyDialer) lost() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropped++
}

// lossyConn passes requests through while noting, in order, which ones
// lose their response; responses come back in request order on a
// connection, so the reader knows which response is which.
type lossyConn struct {
	net.Conn
	d    *LossyDialer
	reqs loggedConn // parses the request headers written

	wmu   sync.Mutex // one Write at a time: fates in the order bytes are written
	mu    sync.Mutex
	fates []bool // per request written and not yet answered: lose the response?
	seen  int    // request headers accounted for in fates

	in   []byte // bytes read from the broker, not yet split into responses
	out  []byte // whole responses to hand to the reader
	dead bool   // a response was lost: the connection is closed
}

// Write notes the fate of each request in p before the bytes leave: the
// broker may answer before Write returns, and the reader must know by then
// which answer to lose. wmu keeps the notes in the order the bytes go out.
func (c *lossyConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	dead := c.dead
	c.mu.Unlock()
	if dead {
		return 0, net.ErrClosed
	}
	c.reqs.scan(p)
	c.mu.Lock()
	for c.seen < c.reqs.log.total() {
		c.fates = append(c.fates, c.d.doomed(c.reqs.log.keyAt(c.seen)))
		c.seen++
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *lossyConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			c.mu.Unlock()
			return n, nil
		}
		if c.dead {
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		c.mu.Unlock()
		buf := make([]byte, max(len(p), 4096))
		n, err := c.Conn.Read(buf)
		c.mu.Lock()
		c.in = append(c.in, buf[:n]...)
		for len(c.in) >= 4 && !c.dead {
			size := int(binary.BigEndian.Uint32(c.in[:4]))
			if len(c.in) < 4+size {
				break
			}
			lose := len(c.fates) > 0 && c.fates[0]
			if len(c.fates) > 0 {
				c.fates = c.fates[1:]
			}
			if lose {
				c.dead = true
				c.Conn.Close()
				c.d.lost()
				break
			}
			c.out = append(c.out, c.in[:4+size]...)
			c.in = c.in[4+size:]
		}
		c.mu.Unlock()
		if err != nil {
			c.mu.Lock()
			pending := len(c.out) > 0
			c.mu.Unlock()
			if !pending {
				return 0, err
			}
		}
	}
}
