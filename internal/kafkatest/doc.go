// Package kafkatest gives tests a Kafka cluster behind one small interface,
// [Cluster], whichever engine backs it:
//
//   - kfake ([NewFake]): franz-go's in-process cluster. Nothing to install,
//     starts in milliseconds, and offers fault injection through
//     [Fake.Kfake]. It is what `go test ./...` runs on by default.
//   - real Apache Kafka ([StartKafka], [Launch]): one combined KRaft node, or
//     three brokers for replication tests, run as child processes of the
//     test from the jars that kafka/fetch.sh caches outside the repository
//     (see [Home]). Broker faults are real: [Cluster.KillBroker] sends
//     SIGKILL to the broker's process.
//
// Tests that need real Kafka call [RequireKafka] (StartKafka does it for
// them): without the jars the test is skipped with one line naming the setup
// command, except under CI (the CI environment variable set), where a
// missing jar is a failure.
//
// What a test wrote is read back by readers that share no code with kprod:
// franz-go's kgo consumer ([ReadRecords], read_committed on request) and,
// where the jars are present, Java's console consumer ([ConsoleConsume]).
// [ConsoleProduce] writes keyed records with Java's console producer, whose
// partitions kprod's partitioner must match.
//
// Every process this package starts is ended by its pid — on Close, on a
// test's cleanup, or by the kernel if the test binary dies first (the next
// Launch then removes the dead run's folder) — and only
// one real cluster runs at a time per cache folder, across test binaries
// (a file lock), so parallel packages do not crowd a small machine.
package kafkatest
