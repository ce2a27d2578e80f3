package loadgen

import (
	"fmt"
	"strings"
)

// ParseProps reads Java producer properties given on a command line as
// "k=v,k=v" into a map for producer.WithProperties. Keys are trimmed and
// must not be empty or repeated; a value is trimmed and may contain '=' but
// not ','; empty entries are skipped. Its errors name the offending entry;
// the caller adds the flag's name.
func ParseProps(s string) (map[string]string, error) {
	props := make(map[string]string)
	for _, kv := range strings.Split(s, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		if _, dup := props[k]; dup {
			return nil, fmt.Errorf("%q given twice", k)
		}
		props[k] = strings.TrimSpace(v)
	}
	return props, nil
}
