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
// by it. It appends with SyncAlways and prints "id k" once Append returned,
// until it is killed (or 20 s pass, should the parent be gone).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashKill only")
	}
	base, err := strconv.ParseUint(os.Getenv(crashBaseEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	s, _, _, err := Open(dir, Options{Sync: SyncAlways, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, "open")
	deadline := time.Now().Add(20 * time.Second)
	for k := base; time.Now().Before(deadline); k++ {
		meta, data := genEntry(k, crashMaxData)
		id, err := s.Append(meta, data)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "%d %d\n", id, k) // os.Stdout is unbuffered
	}
}

// TestCrashKill kills a child appending with SyncAlways at seeded random
// moments, a dozen times over one directory, and checks after each kill
// that every entry whose Append returned in the child is there, intact:
// durable means durable. What was cut beyond is logged.
func TestCrashKill(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(42, 43))
	printed := map[uint64]uint64{} // id -> k, over all children
	var cutFrames int
	var cutBytes int64
	start := time.Now()
	const kills = 12
	for run := range kills {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("only %d kills in 20 s", run)
		}
		base := uint64(run+1) * 1_000_000
		lines := runAndKill(t, dir, base, time.Duration(r.IntN(40_000))*time.Microsecond)
		for _, l := range lines {
			var id, k uint64
			if _, err := fmt.Sscanf(l, "%d %d", &id, &k); err != nil {
				t.Fatalf("child printed %q", l)
			}
			printed[id] = k
		}
		s, es, rep := open(t, dir, Options{Sync: SyncNever})
		if len(rep.Quarantined) != 0 {
			t.Fatalf("run %d: a kill led to quarantine: %+v", run, rep.Quarantined)
		}
		found := map[uint64]bool{}
		for i, e := range es {
			if i > 0 && e.ID <= es[i-1].ID {
				t.Fatalf("run %d: ids %d then %d", run, es[i-1].ID, e.ID)
			}
			checkGen(t, e, crashMaxData)
			if k, ok := printed[e.ID]; ok && k != uint64From(e.Meta) {
				t.Fatalf("run %d: entry %d holds k %d, child printed %d", run, e.ID, uint64From(e.Meta), k)
			}
			found[e.ID] = true
		}
		for id := range printed {
			if !found[id] {
				t.Fatalf("run %d: entry %d was appended (Append returned) but is gone", run, id)
			}
		}
		cutFrames += rep.TornFrames
		cutBytes += rep.TornBytes
		t.Logf("run %d: %d lines printed, %d entries on disk, %d printed in all, cut %d frames (%d bytes)",
			run, len(lines), len(es), len(printed), rep.TornFrames, rep.TornBytes)
		mustClose(t, s)
	}
	t.Logf("%d kills in %v: %d entries confirmed by the children all found; %d frames (%d bytes) cut beyond them",
		kills, time.Since(start).Round(time.Millisecond), len(printed), cutFrames, cutBytes)
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
