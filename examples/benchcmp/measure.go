package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// errProcStatus means /proc/self/status lacked a field we read.
var errProcStatus = errors.New("benchcmp: field not in /proc/self/status")

// sample is what the process had used at one instant.
type sample struct {
	at      time.Time
	cpu     time.Duration // user + system CPU time of the process
	mallocs uint64        // heap objects allocated so far (as testing's allocs/op counts them)
	bytes   uint64        // heap bytes allocated so far
	gcs     uint32
}

// takeSample reads the counters. It stops the world briefly (ReadMemStats),
// so it belongs at the edges of a measured interval only.
func takeSample() (sample, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return sample{}, fmt.Errorf("getrusage: %w", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return sample{at: time.Now(), cpu: cpu, mallocs: ms.Mallocs, bytes: ms.TotalAlloc, gcs: ms.NumGC}, nil
}

// procStatusKiB reads a "Name:   123 kB" field of /proc/self/status, in KiB.
func procStatusKiB(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return statusField(b, field)
}

// statusField finds field in the text of a /proc status file.
func statusField(status []byte, field string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	prefix := []byte(field + ":")
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, prefix) {
			continue
		}
		f := bytes.Fields(line[len(prefix):])
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: %s has value %q", errProcStatus, field, f[0])
		}
		return n, nil
	}
	return 0, fmt.Errorf("%w: %s", errProcStatus, field)
}

// clockTicks is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux platform Go supports).
const clockTicks = 100

// processCPU is the user + system CPU time process pid used so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return statCPU(b)
}

// statCPU reads utime + stime out of the text of a /proc/<pid>/stat file.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func statCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no command name in stat", errProcStatus)
	}
	f := bytes.Fields(stat[i+1:])
	// After the name: state(3) ppid … utime is field 14, stime 15.
	const utime = 14 - 3
	if len(f) <= utime+1 {
		return 0, fmt.Errorf("%w: stat has %d fields after the name", errProcStatus, len(f))
	}
	var ticks int64
	for _, s := range f[utime : utime+2] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: CPU time %q", errProcStatus, s)
		}
		ticks += n
	}
	if ticks > math.MaxInt64/int64(time.Second) {
		return 0, fmt.Errorf("%w: CPU time of %d ticks out of range", errProcStatus, ticks)
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
