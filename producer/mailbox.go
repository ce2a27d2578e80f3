package producer

import "sync"

// mailbox is how other goroutines reach the sender goroutine: a wake-up,
// functions to run on it, and answered produce requests (posted by the
// connections' reader goroutines). It exists before anything else of the
// producer, so every part can be given its wake function when it is built.
type mailbox struct {
	wakeCh  chan struct{} // capacity 1: a pending wake-up
	mu      sync.Mutex
	posted  []func()       // guarded by mu
	answers []*inflightReq // guarded by mu

	// ---- sender goroutine only: the slices being handled ----
	running  []func()
	answered []*inflightReq
}

func newMailbox() *mailbox { return &mailbox{wakeCh: make(chan struct{}, 1)} }

// wake makes the sender look at the accumulator again soon. Cheap and safe
// from any goroutine; wake-ups coalesce.
func (mb *mailbox) wake() {
	select {
	case mb.wakeCh <- struct{}{}:
	default:
	}
}

// post runs fn on the sender goroutine.
func (mb *mailbox) post(fn func()) {
	mb.mu.Lock()
	mb.posted = append(mb.posted, fn)
	mb.mu.Unlock()
	mb.wake()
}

// postAnswer hands an answered request to the sender goroutine.
func (mb *mailbox) postAnswer(ir *inflightReq) {
	mb.mu.Lock()
	mb.answers = append(mb.answers, ir)
	mb.mu.Unlock()
	mb.wake()
}

// take returns what was posted since the last take: the answers first,
// then the functions. The slices are the sender's until the next take.
// Sender goroutine only.
func (mb *mailbox) take() ([]*inflightReq, []func()) {
	mb.mu.Lock()
	mb.running, mb.posted = mb.posted, mb.running[:0]
	mb.answered, mb.answers = mb.answers, mb.answered[:0]
	mb.mu.Unlock()
	return mb.answered, mb.running
}
