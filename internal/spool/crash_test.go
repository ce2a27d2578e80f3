package spool

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash test's child: this test binary run again with these variables.
const (
	crashDirEnv  = "SPOOL_CRASH_CHILD_DIR"
	crashBaseEnv = "SPOOL_CRASH_CHILD_BASE"
	crashMaxData = 4096
)

// TestCrashChild is the child of TestCrashKill; it does nothing unless run
// by it. It appends with SyncAlways and prints "id <id> <k>" once Append
// returned; now and then it acknowledges pending entries (its own and those
// Open returned), printing "doing <id> <k>" before Done or DoneMany and
// "done <id> <k>" once it returned; until it is killed (or 20 s pass,
// should the parent be gone).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashKill only")
	}
	base, err := strconv.ParseUint(os.Getenv(crashBaseEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	s, pending, _, err := Open(dir, Options{Sync: SyncAlways, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, "open")
	type ent struct{ id, k uint64 }
	var live []ent // pending, oldest first
	for _, e := range pending {
		live = append(live, ent{e.ID, uint64From(e.Meta)})
	}
	r := rand.New(rand.NewPCG(base, 1))
	deadline := time.Now().Add(20 * time.Second)
	for k := base; time.Now().Before(deadline); k++ {
		meta, data := genEntry(k, crashMaxData)
		id, err := s.Append(meta, data)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "id %d %d\n", id, k) // os.Stdout is unbuffered
		live = append(live, ent{id, k})
		// Acknowledge about one entry in two appended: one or a few, the
		// oldest (as Kafka mostly answers) or any.
		if x := r.IntN(10); x < 4 && len(live) > 1 {
			n := 1
			if x == 0 {
				n = min(len(live), 2+r.IntN(4))
			}
			var batch []ent
			for range n {
				i := 0
				if r.IntN(2) == 0 {
					i = r.IntN(len(live))
				}
				batch = append(batch, live[i])
				live = append(live[:i], live[i+1:]...)
			}
			ids := make([]uint64, len(batch))
			for i, e := range batch {
				ids[i] = e.id
				fmt.Fprintf(os.Stdout, "doing %d %d\n", e.id, e.k)
			}
			if n == 1 {
				err = s.Done(ids[0])
			} else {
				err = s.DoneMany(ids)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range batch {
				fmt.Fprintf(os.Stdout, "done %d %d\n", e.id, e.k)
			}
		}
	}
}

// TestCrashKill kills a child appending with SyncAlways and acknowledging
// entries at seeded random moments, a dozen times over one directory, and
// checks after each kill that every entry whose Append returned in the
// child, or that the Open before it returned, is there intact unless it was
// acknowledged, and that no entry whose Done returned comes back: durable
// means durable, done means done (Done does not fsync, but its write(2)
// survives the process). An entry whose Done was under way may do either.
// What was cut beyond is logged.
func TestCrashKill(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(42, 43))
	expect := map[uint64]uint64{} // id -> k: entries that must come back
	doneK := map[uint64]bool{}    // k of entries done: must not come back (k is never reused)
	var cutFrames, printed, dones, maybeBack, maybeGone int
	var cutBytes int64
	start := time.Now()
	const kills = 12
	for run := range kills {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("only %d kills in 20 s", run)
		}
		base := uint64(run+1) * 1_000_000
		lines := runAndKill(t, dir, base, time.Duration(r.IntN(40_000))*time.Microsecond)
		maybe := map[uint64]bool{} // k whose Done was under way at the kill
		for _, l := range lines {
			var what string
			var id, k uint64
			if _, err := fmt.Sscanf(l, "%s %d %d", &what, &id, &k); err != nil {
				t.Fatalf("child printed %q", l)
			}
			switch what {
			case "id":
				expect[id] = k
				printed++
			case "doing":
				if expect[id] != k {
					t.Fatalf("run %d: child acknowledged %d (k %d), not known pending", run, id, k)
				}
				delete(expect, id)
				maybe[k] = true
			case "done":
				delete(maybe, k)
				doneK[k] = true
				dones++
			default:
				t.Fatalf("child printed %q", l)
			}
		}
		s, es, rep := open(t, dir, Options{Sync: SyncNever})
		if len(rep.Quarantined) != 0 {
			t.Fatalf("run %d: a kill led to quarantine: %+v", run, rep.Quarantined)
		}
		found := map[uint64]uint64{}
		for i, e := range es {
			if i > 0 && e.ID <= es[i-1].ID {
				t.Fatalf("run %d: ids %d then %d", run, es[i-1].ID, e.ID)
			}
			checkGen(t, e, crashMaxData)
			k := uint64From(e.Meta)
			if doneK[k] {
				t.Fatalf("run %d: entry %d (k %d) came back after its Done returned", run, e.ID, k)
			}
			if maybe[k] {
				maybeBack++
				delete(maybe, k)
			}
			found[e.ID] = k
		}
		maybeGone += len(maybe)
		for id, k := range expect {
			if found[id] != k {
				t.Fatalf("run %d: entry %d (k %d) is pending but did not come back (found k %d)", run, id, k, found[id])
			}
		}
		// What Open returned is on disk and pending: the next child
		// starts from it.
		expect = found
		cutFrames += rep.TornFrames
		cutBytes += rep.TornBytes
		t.Logf("run %d: %d lines printed, %d entries back (%d done frames read), cut %d frames (%d bytes)",
			run, len(lines), len(es), rep.DoneFrames, rep.TornFrames, rep.TornBytes)
		mustClose(t, s)
	}
	if dones == 0 {
		t.Fatalf("no Done returned in %d runs", kills)
	}
	t.Logf("%d kills in %v: %d appends and %d dones confirmed by the children, all kept; %d dones under way came back, %d did not; %d frames (%d bytes) cut",
		kills, time.Since(start).Round(time.Millisecond), printed, dones, maybeBack, maybeGone, cutFrames, cutBytes)
}

// runAndKill starts the child on dir, lets it append for about d after it
// opened the spool, kills it by its pid with SIGKILL and returns the whole
// lines of ids it printed.
func runAndKill(t *testing.T, dir string, base uint64, d time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashBaseEnv+"="+strconv.FormatUint(base, 10))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type line struct {
		s   string
		err error
	}
	lines := make(chan line, 1<<16)
	go func() {
		br := bufio.NewReader(out)
		for {
			s, err := br.ReadString('\n')
			if err != nil {
				// A line without its newline was cut by the kill.
				lines <- line{err: err}
				close(lines)
				return
			}
			lines <- line{s: strings.TrimSuffix(s, "\n")}
		}
	}()
	select {
	case l := <-lines:
		if l.s != "open" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child's first line %q, %v", l.s, l.err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child did not open the spool in 15 s")
	}
	time.Sleep(d)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL to this pid
		t.Fatal(err)
	}
	var got []string
	for l := range lines {
		if l.err == nil {
			got = append(got, l.s)
		} else if l.err != io.EOF {
			t.Fatal(l.err)
		}
	}
	cmd.Wait() // "signal: killed" is expected
	return got
}

// uint64From reads the k that genEntry put in an entry's metadata.
func uint64From(meta []byte) uint64 {
	var k uint64
	for _, b := range meta {
		k = k<<8 | uint64(b)
	}
	return k
}
