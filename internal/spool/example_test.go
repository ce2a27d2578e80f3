package spool_test

import (
	"fmt"
	"os"

	"github.com/kprod/kprod/internal/spool"
)

// A producer spools two batches, acknowledges the first and stops; the next
// producer on the directory gets the second back to send before anything
// new, and reads it again by id when it is time to send it.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s, pending, _, err := spool.Open(dir, spool.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println("pending at first:", len(pending))
	first, _ := s.Append([]byte("orders/0 pid=7 epoch=0 seq=0"), []byte("batch one"))
	s.Append([]byte("orders/0 pid=7 epoch=0 seq=10"), []byte("batch two"))
	s.Done(first) // the broker acknowledged batch one
	s.Close()

	s, pending, rep, err := spool.Open(dir, spool.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	// Done wrote a done frame: only the batch not acknowledged comes back.
	for _, e := range pending {
		fmt.Printf("%d %s: %s\n", e.ID, e.Meta, e.Data)
	}
	fmt.Println("cut:", rep.TornBytes, "quarantined:", len(rep.Quarantined))
	e, err := s.Read(pending[0].ID)
	if err != nil {
		panic(err)
	}
	fmt.Printf("read %d: %s\n", e.ID, e.Data)
	// Output:
	// pending at first: 0
	// 2 orders/0 pid=7 epoch=0 seq=10: batch two
	// cut: 0 quarantined: 0
	// read 2: batch two
}
