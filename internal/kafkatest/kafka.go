package kafkatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReadyTimeout bounds how long a broker may take to serve after its process
// starts (5–20 s is usual on two busy cores).
const ReadyTimeout = 90 * time.Second

// KafkaConfig describes a real Kafka cluster to launch.
type KafkaConfig struct {
	// Brokers is the number of nodes (default 1). Node 1 is the KRaft
	// controller and a broker; nodes 2.. are brokers only. Stopping node 1
	// therefore stops the controller too.
	Brokers int
	// HeapMB is each node's Java heap in MiB (default 512).
	HeapMB int
	// Features are passed to the storage tool's format command as
	// --feature name=level, e.g. "transaction.version=0" for classic
	// transactions (Kafka 4.x formats with transactions v2 on).
	Features []string
	// ServerProps are added to (or replace) every node's server.properties.
	ServerProps map[string]string
	// Dir is where the cluster's temporary folder is made (default: the
	// system temp folder).
	Dir string
	// OAuthBearer, when set, adds a SASL_PLAINTEXT listener to every node
	// that takes SASL OAUTHBEARER (see SASLAddrs); the PLAINTEXT listener
	// stays, for the brokers themselves and for test readers.
	OAuthBearer *OAuthBearerListener
}

// OAuthBearerListener configures the SASL_PLAINTEXT OAUTHBEARER listener.
// Tokens are checked by Kafka's built-in validator for unsecured JWTs (alg
// "none"), which a broker uses when no server callback handler is
// configured: for tests and development only. It needs no identity
// provider, and no allowed-URL system property (that guards only the
// handlers that fetch keys or tokens over HTTP).
type OAuthBearerListener struct {
	// RequiredScope, when set, is a scope every token must carry (the
	// validator's unsecuredValidatorRequiredScope option).
	RequiredScope string
	// ReauthMs is connections.max.reauth.ms: the longest SASL session
	// before a client must re-authenticate (KIP-368); a session also ends
	// when its token expires. 0 keeps Kafka's default (no limit).
	ReauthMs int
}

// Kafka is a Cluster of real Apache Kafka nodes run as child processes.
type Kafka struct {
	cfg       KafkaConfig
	lib       string
	root      string // the cluster's temporary folder, removed by Close
	clusterID string

	mu     sync.Mutex
	nodes  []*node // nodes[i] has id i+1
	closed bool
}

// node is one Kafka process and what it needs to start again.
type node struct {
	id       int32
	port     int    // PLAINTEXT listener
	saslPort int    // SASL_PLAINTEXT listener; 0 without KafkaConfig.OAuthBearer
	ctrlPort int    // CONTROLLER listener; 0 on broker-only nodes
	dir      string // holds server.properties, the log and data/
	proc     *proc  // nil while stopped
	log      *os.File
}

func (n *node) addr() string         { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }
func (n *node) propsPath() string    { return filepath.Join(n.dir, "server.properties") }
func (n *node) logPath() string      { return filepath.Join(n.dir, "broker.log") }
func (k *Kafka) node(id int32) *node { return k.nodes[id-1] }

// StartKafka launches a real Kafka cluster for the test and ends it with
// the test; without the jars the test is skipped (failed under CI). On a
// failed test the tail of each broker's log is logged.
func StartKafka(t testing.TB, cfg KafkaConfig) *Kafka {
	t.Helper()
	RequireKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*ReadyTimeout)
	defer cancel()
	start := time.Now()
	k, err := Launch(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kafka %s: %d node(s) at %s, ready in %v", Version, len(k.nodes), strings.Join(k.Addrs(), ","), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			for _, id := range k.BrokerIDs() {
				t.Logf("broker %d log tail:\n%s", id, k.LogTail(id, 30))
			}
		}
		k.Close()
	})
	return k
}

// Launch starts a real Kafka cluster from the fetched jars and returns once
// every node serves, or an error (with the logs' tails) and nothing left
// running. The caller Closes it. Only one real cluster runs at a time per jar
// cache across processes: Launch waits for the others to close.
func Launch(ctx context.Context, cfg KafkaConfig) (*Kafka, error) {
	lib, err := Lib()
	if err != nil {
		return nil, err
	}
	cfg.Brokers = max(cfg.Brokers, 1)
	if cfg.HeapMB <= 0 {
		cfg.HeapMB = 512
	}
	if err := lockMachine(ctx); err != nil {
		return nil, err
	}
	removeOrphans(cfg.Dir)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		k, err := launchOnce(ctx, lib, cfg)
		if err == nil {
			return k, nil
		}
		lastErr = err
		// Ports are picked free but given up before Kafka binds them;
		// another process may take one in between. Only that is retried.
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			break
		}
	}
	unlockMachine()
	return nil, lastErr
}

var errPortTaken = errors.New("kafkatest: a port was taken before Kafka bound it")

func launchOnce(ctx context.Context, lib string, cfg KafkaConfig) (*Kafka, error) {
	root, err := os.MkdirTemp(cfg.Dir, "kprod-kafka-")
	if err != nil {
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	k := &Kafka{cfg: cfg, lib: lib, root: root, clusterID: newClusterID()}
	ports, err := freePorts(2*cfg.Brokers + 1)
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	for i := range cfg.Brokers {
		n := &node{id: int32(i + 1), port: ports[i], dir: filepath.Join(root, "node-"+strconv.Itoa(i+1))}
		if i == 0 {
			n.ctrlPort = ports[cfg.Brokers]
		}
		if cfg.OAuthBearer != nil {
			n.saslPort = ports[cfg.Brokers+1+i]
		}
		k.nodes = append(k.nodes, n)
	}
	fail := func(err error) (*Kafka, error) {
		k.teardown()
		return nil, err
	}
	if err := k.format(ctx); err != nil {
		return fail(err)
	}
	for _, n := range k.nodes {
		if err := k.startNode(n); err != nil {
			return fail(err)
		}
	}
	for _, n := range k.nodes {
		if err := k.waitReady(ctx, n); err != nil {
			return fail(err)
		}
	}
	return k, nil
}

// ownerFile, in a cluster's folder, holds the pid of the process that made
// it.
const ownerFile = "owner.pid"

// removeOrphans removes the folders of clusters whose test process died
// before it could (the kernel ended their brokers with it).
func removeOrphans(dir string) {
	if dir == "" {
		dir = os.TempDir()
	}
	roots, _ := filepath.Glob(filepath.Join(dir, "kprod-kafka-*"))
	for _, root := range roots {
		b, err := os.ReadFile(filepath.Join(root, ownerFile))
		if err != nil {
			continue // not ours, or not yet written
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(root)
		}
	}
}

// newClusterID makes a random cluster id as Kafka prints them: 16 bytes,
// URL-safe base64 without padding, not starting with '-'.
func newClusterID() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if id[0] != '-' {
			return id
		}
	}
}

// freePorts returns n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kafkatest: finding a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// serverProps is node n's server.properties.
func (k *Kafka) serverProps(n *node) map[string]string {
	nb := len(k.nodes)
	ctrl := k.nodes[0]
	p := map[string]string{
		"node.id":                                          strconv.Itoa(int(n.id)),
		"process.roles":                                    "broker",
		"controller.quorum.voters":                         "1@" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ctrl.ctrlPort)),
		"controller.listener.names":                        "CONTROLLER",
		"inter.broker.listener.name":                       "PLAINTEXT",
		"listener.security.protocol.map":                   "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
		"listeners":                                        "PLAINTEXT://" + n.addr(),
		"advertised.listeners":                             "PLAINTEXT://" + n.addr(),
		"log.dirs":                                         filepath.Join(n.dir, "data"),
		"num.partitions":                                   "1",
		"default.replication.factor":                       strconv.Itoa(min(nb, 3)),
		"auto.create.topics.enable":                        "false", // as kfake: tests create their topics
		"offsets.topic.replication.factor":                 strconv.Itoa(min(nb, 3)),
		"offsets.topic.num.partitions":                     "1",
		"transaction.state.log.replication.factor":         strconv.Itoa(min(nb, 3)),
		"transaction.state.log.min.isr":                    strconv.Itoa(min(nb, 2)),
		"transaction.state.log.num.partitions":             "1",
		"share.coordinator.state.topic.replication.factor": strconv.Itoa(min(nb, 3)),
		"share.coordinator.state.topic.min.isr":            strconv.Itoa(min(nb, 2)),
		"share.coordinator.state.topic.num.partitions":     "1",
		"group.initial.rebalance.delay.ms":                 "0",
		// Tests write explicit timestamps years in the past; with the
		// default retention (7 days, by the newest timestamp of a
		// segment) the broker would delete them at its first retention
		// check, 30 s after it starts.
		"log.retention.ms": "-1",
		// A broker killed and started again cannot register until the
		// controller lets its old incarnation's session lapse (9 s by
		// default), and a killed broker's partitions move only then:
		// shorter, so kill tests take seconds, not tens of them.
		"broker.heartbeat.interval.ms": "1000",
		"broker.session.timeout.ms":    "5000",
		// A small machine: fewer threads, a small cleaner buffer (128 MiB
		// by default, taken from the heap).
		"num.network.threads":               "2",
		"num.io.threads":                    "4",
		"background.threads":                "4",
		"num.recovery.threads.per.data.dir": "1",
		"log.cleaner.dedupe.buffer.size":    strconv.Itoa(8 << 20),
	}
	if n.ctrlPort != 0 {
		p["process.roles"] = "broker,controller"
		ctrlAddr := "CONTROLLER://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.ctrlPort))
		p["listeners"] += "," + ctrlAddr
	}
	if o := k.cfg.OAuthBearer; o != nil {
		sasl := "SASL_PLAINTEXT://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.saslPort))
		p["listeners"] += "," + sasl
		p["advertised.listeners"] += "," + sasl
		p["listener.security.protocol.map"] += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
		p["sasl.enabled.mechanisms"] = "OAUTHBEARER"
		jaas := `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker"`
		if o.RequiredScope != "" {
			jaas += ` unsecuredValidatorRequiredScope="` + o.RequiredScope + `"`
		}
		p["listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config"] = jaas + ";"
		if o.ReauthMs > 0 {
			p["connections.max.reauth.ms"] = strconv.Itoa(o.ReauthMs)
		}
	}
	maps.Copy(p, k.cfg.ServerProps)
	return p
}

// format writes every node's server.properties and formats its data folder
// with the storage tool (all nodes at once; each is a JVM start).
func (k *Kafka) format(ctx context.Context) error {
	errs := make([]error, len(k.nodes))
	var wg sync.WaitGroup
	for i, n := range k.nodes {
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return fmt.Errorf("kafkatest: %w", err)
		}
		if err := writeProps(n.propsPath(), k.serverProps(n)); err != nil {
			return err
		}
		args := []string{"format", "-t", k.clusterID, "-c", n.propsPath()}
		for _, f := range k.cfg.Features {
			args = append(args, "--feature", f)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := runTool(ctx, k.lib, n.dir, nil, "kafka.tools.StorageTool", args...); err != nil {
				errs[i] = fmt.Errorf("kafkatest: formatting node %d: %w", n.id, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func writeProps(path string, p map[string]string) error {
	var b strings.Builder
	for _, key := range slices.Sorted(maps.Keys(p)) {
		fmt.Fprintf(&b, "%s=%s\n", key, p[key])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	return nil
}

// startNode starts n's process, its output appended to its log file.
func (k *Kafka) startNode(n *node) error {
	log4j, err := writeLog4j(n.dir, "broker", "INFO", "SYSTEM_OUT")
	if err != nil {
		return err
	}
	if n.log == nil {
		if n.log, err = os.OpenFile(n.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return fmt.Errorf("kafkatest: %w", err)
		}
	}
	fmt.Fprintf(n.log, "---- kafkatest: starting node %d at %s ----\n", n.id, time.Now().Format(time.RFC3339Nano))
	args := append(javaArgs(k.lib, log4j, k.cfg.HeapMB), "kafka.Kafka", n.propsPath())
	p, err := startProc(args, nil, n.log, n.log)
	if err != nil {
		return err
	}
	n.proc = p
	return nil
}

// waitReady waits until n answers ApiVersions on its PLAINTEXT port and its
// metadata lists every node of the cluster that is running.
func (k *Kafka) waitReady(ctx context.Context, n *node) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	want := len(k.runningAddrs())
	var last string
	for {
		if n.proc.exited() {
			tail := k.LogTail(n.id, 30)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("%w: node %d: %s", errPortTaken, n.id, tail)
			}
			return fmt.Errorf("kafkatest: node %d exited while starting (%v); log tail:\n%s", n.id, n.proc.err, tail)
		}
		if last = probe(ctx, n.addr(), want); last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkatest: node %d not ready after %v (%s); log tail:\n%s", n.id, ReadyTimeout, last, k.LogTail(n.id, 30))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// probe asks the broker at addr for ApiVersions and metadata; it returns
// what is missing, or "" once the broker serves and knows want brokers.
func probe(ctx context.Context, addr string, want int) string {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err.Error()
	}
	conn.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0))
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	seed := cl.SeedBrokers()[0]
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, seed); err != nil {
		return "ApiVersions: " + err.Error()
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Topics = []kmsg.MetadataRequestTopic{} // brokers only
	resp, err := md.RequestWith(ctx, seed)
	if err != nil {
		return "Metadata: " + err.Error()
	}
	if len(resp.Brokers) < want {
		return fmt.Sprintf("%d of %d brokers in metadata", len(resp.Brokers), want)
	}
	return ""
}

// Engine is EngineKafka.
func (k *Kafka) Engine() Engine { return EngineKafka }

// SASLAddrs is where every node's SASL_PLAINTEXT OAUTHBEARER listener is
// (KafkaConfig.OAuthBearer); nil without one.
func (k *Kafka) SASLAddrs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, n := range k.nodes {
		if n.saslPort != 0 {
			out = append(out, net.JoinHostPort("127.0.0.1", strconv.Itoa(n.saslPort)))
		}
	}
	return out
}

// Addrs is where every node's PLAINTEXT listener is, running or not.
func (k *Kafka) Addrs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, n := range k.nodes {
		out = append(out, n.addr())
	}
	return out
}

// BrokerIDs are 1..Brokers.
func (k *Kafka) BrokerIDs() []int32 {
	var ids []int32
	for i := range k.cfg.Brokers {
		ids = append(ids, int32(i+1))
	}
	return ids
}

// Lib is the folder of the jars the cluster runs from.
func (k *Kafka) Lib() string { return k.lib }

// Pids are the process ids of the running nodes.
func (k *Kafka) Pids() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	var pids []int
	for _, n := range k.nodes {
		if n.proc != nil && !n.proc.exited() {
			pids = append(pids, n.proc.pid())
		}
	}
	return pids
}

// CreateTopic creates topic and waits until every running broker knows it
// with a leader and a full ISR for each partition.
func (k *Kafka) CreateTopic(t testing.TB, topic string, partitions int32, replication int16, configs map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := k.CreateTopicContext(ctx, topic, partitions, replication, configs); err != nil {
		t.Fatal(err)
	}
}

// CreateTopicContext is CreateTopic without a test.
func (k *Kafka) CreateTopicContext(ctx context.Context, topic string, partitions int32, replication int16, configs map[string]string) error {
	return createTopic(ctx, k.runningAddrs(), topic, partitions, defaultReplication(replication, k.cfg.Brokers), configs)
}

func (k *Kafka) runningAddrs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, n := range k.nodes {
		if n.proc != nil && !n.proc.exited() {
			out = append(out, n.addr())
		}
	}
	return out
}

// StopBroker sends SIGTERM to the node's process (Kafka then shuts down in
// a controlled way, handing its leaderships over) and waits for it to exit,
// killing it after a minute.
func (k *Kafka) StopBroker(t testing.TB, id int32) {
	t.Helper()
	n := k.running(t, id)
	if !n.proc.stop(time.Minute) {
		t.Logf("kafkatest: node %d did not stop within a minute; killed", id)
	}
	k.mu.Lock()
	n.proc = nil
	k.mu.Unlock()
}

// KillBroker sends SIGKILL to the node's process and waits for it to exit.
func (k *Kafka) KillBroker(t testing.TB, id int32) {
	t.Helper()
	n := k.running(t, id)
	n.proc.kill()
	k.mu.Lock()
	n.proc = nil
	k.mu.Unlock()
}

func (k *Kafka) running(t testing.TB, id int32) *node {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if id < 1 || int(id) > len(k.nodes) {
		t.Fatalf("kafkatest: no node %d (have 1..%d)", id, len(k.nodes))
	}
	n := k.node(id)
	if n.proc == nil || n.proc.exited() {
		t.Fatalf("kafkatest: node %d is not running", id)
	}
	return n
}

// RestartBroker starts a stopped or killed node again with its data and
// ports, and waits until it serves.
func (k *Kafka) RestartBroker(t testing.TB, id int32) {
	t.Helper()
	k.mu.Lock()
	if id < 1 || int(id) > len(k.nodes) {
		k.mu.Unlock()
		t.Fatalf("kafkatest: no node %d", id)
	}
	n := k.node(id)
	if n.proc != nil && !n.proc.exited() {
		k.mu.Unlock()
		t.Fatalf("kafkatest: node %d is running", id)
	}
	err := k.startNode(n)
	k.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.waitReady(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

// LogTail is the last lines of node id's log.
func (k *Kafka) LogTail(id int32, lines int) string {
	if id < 1 || int(id) > len(k.nodes) {
		return ""
	}
	b, err := os.ReadFile(k.node(id).logPath())
	if err != nil {
		return err.Error()
	}
	b = bytes.TrimRight(b, "\n")
	for i, cut := len(b)-1, 0; i >= 0; i-- {
		if b[i] == '\n' {
			if cut++; cut == lines {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

// Close kills every node by its pid, waits for each to exit, removes the
// cluster's folder and lets the next cluster start.
func (k *Kafka) Close() {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.closed = true
	k.mu.Unlock()
	k.teardown()
	unlockMachine()
}

// teardown kills the nodes and removes the folder.
func (k *Kafka) teardown() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range k.nodes {
		if n.proc != nil {
			n.proc.kill()
			n.proc = nil
		}
		if n.log != nil {
			n.log.Close()
			n.log = nil
		}
	}
	os.RemoveAll(k.root)
}

// Down lists the nodes that are not running (stopped, killed, or exited).
func (k *Kafka) Down() []int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	var ids []int32
	for _, n := range k.nodes {
		if n.proc == nil || n.proc.exited() {
			ids = append(ids, n.id)
		}
	}
	return ids
}

// WaitInSync waits until every running broker's metadata shows each
// partition of topic led and with replication replicas in its ISR (0: as
// many as the topic's default), e.g. after a restarted broker caught up.
func (k *Kafka) WaitInSync(t testing.TB, topic string, partitions int32, replication int16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	replication = defaultReplication(replication, k.cfg.Brokers)
	for _, addr := range k.runningAddrs() {
		if err := waitTopic(ctx, addr, topic, partitions, replication); err != nil {
			t.Fatal(err)
		}
	}
}
