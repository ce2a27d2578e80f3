//go:build !race

package batch_test

// raceEnabled reports a -race build, where sync.Pool drops some Puts on
// purpose and allocation counts mean nothing.
const raceEnabled = false
