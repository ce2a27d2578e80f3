package producer

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// maxCompressors bounds the goroutines compressing at once for one
// producer: each concurrent compression holds its own encoder state (about
// 0.7 MB for zstd), and the application needs cores too.
const maxCompressors = 4

// finishClosed finishes the closed batches the last scan collected
// (compression, header), then marks them finished. With a codec and several
// batches, helper goroutines compress alongside the sender on the other
// cores, and the sender waits for them: the batches stay the sender's, and
// a producer bound by its codec uses more than one core.
func (s *sender) finishClosed() {
	batches := s.scan.toFinish
	helpers := 0
	if s.acc.comp != nil {
		helpers = min(len(batches), runtime.GOMAXPROCS(0), maxCompressors) - 1
	}
	if helpers <= 0 {
		for _, rb := range batches {
			s.acc.finish(rb)
		}
	} else {
		s.m.parallelFinishes.Add(1)
		var next atomic.Int64
		work := func() {
			for i := next.Add(1) - 1; i < int64(len(batches)); i = next.Add(1) - 1 {
				s.acc.finish(batches[i])
			}
		}
		var wg sync.WaitGroup
		for range helpers {
			wg.Go(work)
		}
		work()
		wg.Wait()
	}
	for _, rb := range batches {
		s.acc.markFinished(rb)
	}
}
