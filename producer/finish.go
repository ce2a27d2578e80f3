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
		s.finishers.run(s.acc, batches, helpers)
	}
	for _, rb := range batches {
		s.acc.markFinished(rb)
	}
}

// finishers are the helper goroutines of finishClosed. They are started on
// first need and kept, so a parallel finish allocates nothing and starts no
// goroutine; stop ends them when the sender exits. Sender goroutine only,
// but for the job they share while the sender waits.
type finishers struct {
	jobs    chan *finishJob // a helper takes the job, works it, and marks it done
	started int
	alive   sync.WaitGroup // the helpers running
	job     finishJob
}

// finishJob is one parallel finish: the batches, shared out one at a time.
type finishJob struct {
	acc     *accumulator
	batches []*recBatch
	next    atomic.Int64
	wg      sync.WaitGroup
}

// run finishes batches on the sender and helpers more goroutines, and
// returns once every batch is finished.
func (f *finishers) run(acc *accumulator, batches []*recBatch, helpers int) {
	if f.jobs == nil {
		f.jobs = make(chan *finishJob)
	}
	for ; f.started < helpers; f.started++ {
		f.alive.Go(f.help)
	}
	j := &f.job
	j.acc, j.batches = acc, batches
	j.next.Store(0)
	j.wg.Add(helpers)
	for range helpers {
		f.jobs <- j
	}
	j.work()
	j.wg.Wait()
	j.acc, j.batches = nil, nil
}

// help is a helper goroutine's life.
func (f *finishers) help() {
	for j := range f.jobs {
		j.work()
		j.wg.Done()
	}
}

// work finishes batches until none is left.
func (j *finishJob) work() {
	for i := j.next.Add(1) - 1; i < int64(len(j.batches)); i = j.next.Add(1) - 1 {
		j.acc.finish(j.batches[i])
	}
}

// stop ends the helpers and waits for them; the sender calls it as it
// exits, so none outlives the producer.
func (f *finishers) stop() {
	if f.jobs != nil {
		close(f.jobs)
		f.alive.Wait()
	}
}
