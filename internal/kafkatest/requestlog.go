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
