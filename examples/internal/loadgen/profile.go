package loadgen

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// SetMemProfileRate sets runtime.MemProfileRate when rate is positive; 0
// keeps Go's default. Set it before the allocations the profile should see.
func SetMemProfileRate(rate int) {
	if rate > 0 {
		runtime.MemProfileRate = rate
	}
}

// StartCPUProfile starts a CPU profile written to path (none when path is
// empty); the returned func stops it.
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// WriteMemProfile writes the allocation profile to path (nothing when path
// is empty).
func WriteMemProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC() // the profile shows allocations as of the last GC: include the run's last ones
	return pprof.Lookup("allocs").WriteTo(f, 0)
}
