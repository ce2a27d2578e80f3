package wire

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// versionTable is what one broker and we agreed on: for each request key
// the highest version both sides (and the configured cap) support, or -1.
// It is written once during the dial and read-only afterwards.
type versionTable struct {
	max [kmsg.MaxKey + 1]int16
}

// kmsgMaxVersions is, per key, the highest version the kmsg package can
// encode, or -1 for keys it does not know.
var kmsgMaxVersions = sync.OnceValue(func() *[kmsg.MaxKey + 1]int16 {
	var t [kmsg.MaxKey + 1]int16
	for k := range t {
		t[k] = -1
		if r := kmsg.RequestForKey(int16(k)); r != nil {
			t[k] = r.MaxVersion()
		}
	}
	return &t
})

// negotiate builds the table from an ApiVersions response: a key is usable
// at min(broker max, kmsg max, cap) when that is not below the broker's
// minimum.
func negotiate(resp *kmsg.ApiVersionsResponse, caps *[kmsg.MaxKey + 1]int16) *versionTable {
	ours := kmsgMaxVersions()
	t := new(versionTable)
	for k := range t.max {
		t.max[k] = -1
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey < 0 || int(k.ApiKey) > kmsg.MaxKey {
			continue
		}
		// A key listed twice (no real broker does that) is read as the
		// last listing says.
		v := min(k.MaxVersion, ours[k.ApiKey])
		if caps != nil {
			v = min(v, caps[k.ApiKey])
		}
		if v < 0 || v < k.MinVersion {
			v = -1
		}
		t.max[k.ApiKey] = v
	}
	return t
}

// lookup returns the negotiated max version for key.
func (t *versionTable) lookup(key int16) (int16, bool) {
	if key < 0 || int(key) > kmsg.MaxKey {
		return -1, false
	}
	v := t.max[key]
	return v, v >= 0
}
