package producer

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The crash test's child: a producer with the spool (SyncAlways) sending
// records of one life's id range, printing "a <id>" when Send accepted a
// record and "d <id>" when it is durable, until it is killed.
const (
	envCrashChild   = "KPROD_SPOOL_CRASH_CHILD" // the spool dir; set only in the child
	envCrashBrokers = "KPROD_SPOOL_CRASH_BROKERS"
	envCrashFirst   = "KPROD_SPOOL_CRASH_FIRST" // the life's first record id
	envCrashFinal   = "KPROD_SPOOL_CRASH_FINAL" // "1": send a few records, flush, close and exit
	crashTopic      = "crash"
	crashLife       = 1_000_000 // ids of life k are k*crashLife + i
)

func TestSpoolCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashChild)
	if dir == "" {
		t.Skip("runs only as the child of TestSpoolCrash")
	}
	first, _ := strconv.Atoi(os.Getenv(envCrashFirst))
	final := os.Getenv(envCrashFinal) == "1"
	p, err := New(WithBrokers(strings.Split(os.Getenv(envCrashBrokers), ",")...),
		WithLinger(2*time.Millisecond), WithBatchSize(4096), WithBufferMemory(1<<20),
		WithMaxBlock(time.Minute), WithRequestTimeout(2*time.Second), WithDeliveryTimeout(time.Minute),
		WithRetryBackoff(20*time.Millisecond, 200*time.Millisecond), WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond),
		WithSpool(dir, SpoolSync(SyncAlways), SpoolOutageAfter(50*time.Millisecond)))
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	say := func(kind byte, id int) {
		mu.Lock()
		fmt.Fprintf(out, "%c %d\n", kind, id)
		out.Flush()
		mu.Unlock()
	}
	go func() { // the replay's figures so far, for the parent's report
		for range time.Tick(50 * time.Millisecond) {
			m := p.Metrics()
			mu.Lock()
			fmt.Fprintf(out, "m %d %d %d %d\n", m.ReplayedBatches, m.ReplayDuplicates, m.ReplayResent, m.ReplayFallbacks)
			out.Flush()
			mu.Unlock()
		}
	}()
	futures := make(chan struct {
		id int
		f  Future
	}, 1<<16)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for x := range futures {
			select {
			case <-x.f.Durable():
				say('d', x.id)
			case <-x.f.Done():
				if _, err := x.f.Get(context.Background()); err == nil {
					say('d', x.id)
				}
			}
		}
	}()
	n := 1 << 30
	if final {
		n = 200
	}
	ctx := context.Background()
	pace := time.NewTicker(time.Millisecond)
	for i := range n {
		if i%4 == 0 {
			<-pace.C
		}
		id := first + i
		f := p.Send(ctx, &Record{Topic: crashTopic, Value: paddedValue(id, 60)}, nil)
		say('a', id)
		futures <- struct {
			id int
			f  Future
		}{id, f}
	}
	close(futures)
	<-watched
	if err := p.Close(ctx); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	m := p.Metrics()
	fmt.Printf("done replayed=%d duplicates=%d resent=%d fallbacks=%d\n", m.ReplayedBatches, m.ReplayDuplicates, m.ReplayResent, m.ReplayFallbacks)
	os.Exit(0)
}

// crashLifeLog is what the parent learned from one child's output.
type crashLifeLog struct {
	accepted, durable map[int]bool
	lastLine          string
	pid               int
	err               error // how the child ended
	// the replay's figures as the child last printed them
	replayed, duplicates, resent, fallbacks int
}

// runCrashChild starts a child on dir and reads its output until it exits or
// kill is closed (then it is SIGKILLed by pid).
func runCrashChild(t *testing.T, dir string, addrs []string, first int, final bool, kill <-chan struct{}) crashLifeLog {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), envCrashChild+"="+dir, envCrashBrokers+"="+strings.Join(addrs, ","),
		envCrashFirst+"="+strconv.Itoa(first))
	if final {
		cmd.Env = append(cmd.Env, envCrashFinal+"=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return crashLifeLog{err: err}
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return crashLifeLog{err: err}
	}
	pid := cmd.Process.Pid
	stopped := make(chan struct{})
	go func() {
		select {
		case <-kill:
			_ = cmd.Process.Kill()
		case <-stopped:
		}
	}()
	log := crashLifeLog{accepted: map[int]bool{}, durable: map[int]bool{}}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		kind, num, ok := strings.Cut(line, " ")
		if id, err := strconv.Atoi(num); ok && err == nil && (kind == "a" || kind == "d") {
			if kind == "a" {
				log.accepted[id] = true
			} else {
				log.durable[id] = true
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "m "); ok {
			fmt.Sscan(rest, &log.replayed, &log.duplicates, &log.resent, &log.fallbacks)
			continue
		}
		log.lastLine = line
	}
	log.err = cmd.Wait()
	close(stopped)
	log.pid = pid
	return log
}

// TestSpoolCrash kills a child producing with the spool (SyncAlways) at
// seeded moments, more than twenty times, some while the cluster is down,
// and starts it again on the same directory each time. Afterwards every
// record a child reported durable is in the log exactly once, the log holds
// no record twice, and each partition's records are in send order.
func TestSpoolCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker and producer processes: skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("KPROD_SPOOL_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d (KPROD_SPOOL_CRASH_SEED)", seed)
	bp, spec := startRestartable(t, 3, crashTopic, 4)
	addrs := bp.Addrs()
	dir := t.TempDir()
	ctx := ctxTimeout(t, 5*time.Minute)

	durable := map[int]bool{}
	accepted := 0
	notDurable := 0
	replayed, fallbacks := 0, 0
	const kills = 24
	down := false
	for life := 1; life <= kills; life++ {
		// A life lasts 200-800 ms. In about a third of the lives with the
		// cluster up, it goes down midway and the child is killed during the
		// outage; a cluster that is down comes back before the next child
		// starts, or while it runs, or a life later.
		kill := make(chan struct{})
		lived := make(chan crashLifeLog, 1)
		go func() { lived <- runCrashChild(t, dir, addrs, life*crashLife, false, kill) }()
		wait := time.Duration(200+rng.IntN(600)) * time.Millisecond
		events := ""
		switch {
		case !down && rng.IntN(3) == 0:
			time.Sleep(wait / 2)
			if err := bp.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			down, events = true, "cluster stopped midway"
			time.Sleep(wait / 2)
		case down && rng.IntN(3) > 0:
			time.Sleep(wait / 3)
			bp = startBrokers(t, spec)
			down, events = false, "cluster back midway"
			time.Sleep(2 * wait / 3)
		default:
			time.Sleep(wait)
		}
		close(kill)
		lg := <-lived
		lost := 0
		for id := range lg.accepted {
			if !lg.durable[id] {
				lost++
			}
		}
		for id := range lg.durable {
			durable[id] = true
		}
		accepted += len(lg.accepted)
		notDurable += lost
		t.Logf("life %d: killed after %v (%s; cluster %s at the kill): %d accepted, %d durable, %d accepted but not durable; replay of %d batches: %d duplicates, %d resent, %d fallbacks",
			life, wait, cmpOr(events, "no change"), map[bool]string{true: "down", false: "up"}[down], len(lg.accepted), len(lg.durable), lost,
			lg.replayed, lg.duplicates, lg.resent, lg.fallbacks)
		replayed += lg.replayed
		fallbacks += lg.fallbacks
		if down && rng.IntN(2) == 0 {
			bp = startBrokers(t, spec)
			down = false
		}
	}
	if down {
		bp = startBrokers(t, spec)
	}
	final := runCrashChild(t, dir, addrs, (kills+1)*crashLife, true, make(chan struct{}))
	if final.err != nil {
		t.Fatalf("final child (pid %d): %v; last line %q", final.pid, final.err, final.lastLine)
	}
	t.Logf("final life: %s", final.lastLine)
	for id := range final.accepted {
		if !final.durable[id] {
			t.Fatalf("final life: record %d accepted but never durable", id)
		}
		durable[id] = true
	}
	read, err := readLog(addrs, []string{crashTopic}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	last := map[int32]int{}
	for _, r := range read {
		id := valueID(t, r.Value)
		if seen[id]++; seen[id] > 1 {
			t.Fatalf("record %d is in the log twice (partition %d offset %d)", id, r.Partition, r.Offset)
		}
		if prev, ok := last[r.Partition]; ok && id < prev {
			t.Fatalf("partition %d: record %d after %d: order broken", r.Partition, id, prev)
		}
		last[r.Partition] = id
	}
	missing := 0
	for id := range durable {
		if seen[id] == 0 {
			missing++
			if missing <= 5 {
				t.Errorf("record %d was reported durable but is not in the log", id)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d durable records missing from the log", missing)
	}
	if replayed == 0 {
		t.Fatal("no life replayed anything: the test did not exercise the replay")
	}
	if fallbacks > 0 {
		t.Fatalf("%d replayed batches fell back to at-least-once; the broker kept every producer's state", fallbacks)
	}
	t.Logf("%d kills; %d records accepted, %d reported durable (all in the log once, in order), %d accepted but not durable when killed (%d of them in the log anyway); log holds %d records; %d batches replayed",
		kills, accepted+len(final.accepted), len(durable), notDurable, len(read)-len(durable), len(read), replayed)
}

// cmpOr is s, or def when s is empty.
func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
