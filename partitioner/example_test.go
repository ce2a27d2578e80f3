package partitioner_test

import (
	"bytes"
	"fmt"

	"github.com/kprod/kprod/partitioner"
)

// A custom partitioner: values containing "hello" go to partition 0, all
// others to partition 1.
func ExampleFunc() {
	var p partitioner.Partitioner = partitioner.Func(func(topic string, key, value []byte, numPartitions int) int32 {
		if bytes.Contains(value, []byte("hello")) {
			return 0
		}
		return 1
	})

	for _, value := range []string{"hello world", "goodbye", "well, hello"} {
		part := p.Partition("greetings", nil, []byte(value), 2)
		if err := partitioner.CheckPartition(part, 2); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%q -> partition %d\n", value, part)
	}
	// Output:
	// "hello world" -> partition 0
	// "goodbye" -> partition 1
	// "well, hello" -> partition 0
}

// Keyed records land where the Java client puts them.
func ExampleKeyPartition() {
	fmt.Println(partitioner.Murmur2([]byte("foobar")))
	fmt.Println(partitioner.KeyPartition([]byte("foobar"), 12))
	// Output:
	// -790332482
	// 6
}

// The sticky partitioner keeps keyless records of a topic on one partition
// until a batch worth of bytes went there.
func ExampleSticky() {
	s := partitioner.NewSticky(partitioner.StickyConfig{BatchSize: 300, Adaptive: true})

	first := s.Partition("events", 6, nil)
	same := true
	for range 3 { // three 100-byte records fill the batch
		p := s.Partition("events", 6, nil)
		same = same && p == first
		s.OnAppend("events", p, 100, false, 6, nil)
	}
	fmt.Println("first three records on one partition:", same)
	fmt.Println("fourth record moved on:", s.Partition("events", 6, nil) != first)
	// Output:
	// first three records on one partition: true
	// fourth record moved on: true
}
