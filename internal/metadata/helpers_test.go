package metadata

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/internal/wire"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const testTopic = "t"

// newCluster starts an in-process 3-broker cluster (kafkatest's kfake
// engine) with testTopic (3 partitions), closed at test end.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	return kafkatest.NewFake(t, 3, append([]kfake.Opt{kfake.SeedTopics(3, testTopic)}, opts...)...).Kfake()
}

func newPool(t testing.TB, cluster *kfake.Cluster) *wire.Pool {
	t.Helper()
	p, err := wire.NewPool(&wire.Config{ClientID: "metadata-test"}, cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// newClient returns a client over a pool to cluster, closed at test end.
func newClient(t testing.TB, cluster *kfake.Cluster, cfg Config) (*Client, *wire.Pool) {
	t.Helper()
	p := newPool(t, cluster)
	c := New(p, cfg)
	t.Cleanup(c.Close)
	return c, p
}

// metadataRequests counts the Metadata requests the cluster receives and
// records the topics each asked for.
type metadataRequests struct {
	mu     sync.Mutex
	topics [][]string
}

func watchMetadata(cluster *kfake.Cluster) *metadataRequests {
	w := &metadataRequests{}
	cluster.ControlKey(kmsg.Metadata.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		var names []string
		for _, rt := range req.(*kmsg.MetadataRequest).Topics {
			if rt.Topic != nil {
				names = append(names, *rt.Topic)
			}
		}
		w.mu.Lock()
		w.topics = append(w.topics, names)
		w.mu.Unlock()
		return nil, nil, false
	})
	return w
}

func (w *metadataRequests) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.topics)
}

func (w *metadataRequests) last() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.topics) == 0 {
		return nil
	}
	return w.topics[len(w.topics)-1]
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// refreshGoroutines counts live refresh goroutines of c.
func refreshGoroutines(c *Client) int {
	// The receiver is the frame's first argument: other tests' clients,
	// possibly still unwinding, are not counted.
	return strings.Count(string(kafkatest.Stacks()), fmt.Sprintf("internal/metadata.(*Client).run(%p", c))
}
