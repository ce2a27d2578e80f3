// Package brokerproc runs an in-process Kafka cluster (kfake) in a child
// process, so a test can kill the broker for real — by the process id it
// started — and bring it back on the same ports with the same data.
//
// The child is the test binary itself, re-executed to run one helper test
// that calls [Serve]:
//
//	func TestBrokerProcess(t *testing.T) {
//		if !brokerproc.IsChild() {
//			t.Skip("runs only as the child of brokerproc.Start")
//		}
//		if err := brokerproc.Serve(); err != nil {
//			t.Fatal(err)
//		}
//	}
//
// and the test proper starts it with [Start], then [Proc.Stop]s (a graceful
// shutdown: kfake writes its state to the data directory) or [Proc.Kill]s it
// (SIGKILL: whatever kfake had not written is lost), and starts it again with
// the same Spec and [Proc.Ports].
//
// A command can be the child too: [StartProgram] runs it, and its main calls
// [Serve] when [IsChild] reports true (examples/benchcmp runs its blackhole
// broker this way).
package brokerproc
