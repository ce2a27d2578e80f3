package loadgen

import (
	"strings"
	"testing"
)

// FuzzParseProps checks property parsing never panics, returns no map with
// an error, and keeps every key it accepted trimmed, non-empty and without a
// comma.
func FuzzParseProps(f *testing.F) {
	for _, s := range []string{"", "acks=1", "linger.ms=5,batch.size=65536", " a = b ,", "x=a=b", "=", ",,,", "a=1,a=2", "k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		props, err := ParseProps(s)
		if err != nil {
			if props != nil {
				t.Fatalf("ParseProps(%q) returned %v with error %v", s, props, err)
			}
			return
		}
		for k, v := range props {
			if k == "" || k != strings.TrimSpace(k) || v != strings.TrimSpace(v) {
				t.Fatalf("ParseProps(%q) kept key %q value %q untrimmed or empty", s, k, v)
			}
			if strings.Contains(k, ",") || strings.Contains(v, ",") {
				t.Fatalf("ParseProps(%q) kept a comma in %q=%q", s, k, v)
			}
		}
	})
}
