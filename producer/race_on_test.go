//go:build race

package producer

// raceEnabled: the race detector is on (it changes allocation counts).
const raceEnabled = true
