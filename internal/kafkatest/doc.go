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
// franz-go's kgo consumer ([ReadRecords], read_committed on request), raw
// Fetch requests that return the batch headers as the broker stored them
// ([Batches]; [CheckSequences] checks their sequence numbers), OffsetFetch
// for a group's committed offsets ([CommittedOffsets]) and, where the jars
// are present, Java's console consumer ([ConsoleConsume]).
// [ConsoleProduce] writes keyed records with Java's console producer, whose
// partitions kprod's partitioner must match. [Partitions] and [Leader] say
// who leads what (to kill the leader of a partition being written), and a
// [RequestLog] given to a client as its dialer records the request versions
// it sends; a [LossyDialer] loses chosen answers (every n-th, or the next
// after [LossyDialer.Arm]) after the broker did the work, as a network
// fault would.
//
// SASL mechanisms kfake does not check are checked by a [SASLFront]: a
// loopback front per kfake broker that answers SaslHandshake and
// SaslAuthenticate itself (OAUTHBEARER tokens through a test's validator,
// AWS_MSK_IAM signatures recomputed from a known secret), gives sessions a
// lifetime and closes expired ones as a broker does (KIP-368), counts the
// authentications per token, then pipes each connection to its broker with
// Metadata and FindCoordinator answers naming the front. On real Kafka,
// [KafkaConfig].OAuthBearer adds a SASL_PLAINTEXT listener with Kafka's
// unsecured JWT validator ([Kafka.SASLAddrs]).
//
// A package whose tests share real clusters takes them from a [Shared]:
// one runs at a time, replaced only when a test asks for another shape.
//
// [ReadLog] reads topics to the end their logs had when it began (the
// high watermark, or the last stable offset), for checks that must see
// every record written, duplicates included; producertest.Cluster reads
// with it too, and stands on [Fake].
//
// The rest are small helpers the test packages share: [Context] (a bounded context for a test), [NewPKI] (a throwaway
// CA with server and client certificates), [SASLMechanisms], [TxnFlows]
// and [ClassicTransactions] (kfake speaking transactions v2 or the classic
// protocol), [LeakCheck], [Goroutines] and [WaitGoroutinesGone] (goroutine
// leak checks), [DebugLogger] and [APIVersions].
//
// This package imports no kprod package, so the in-package tests of
// producer, internal/wire, internal/metadata and internal/txn can use it.
// What builds kprod's producer lives in the kprodtest subpackage.
//
// Every process this package starts is ended by its pid — on Close, on a
// test's cleanup, or by the kernel if the test binary dies first (the next
// Launch then removes the dead run's folder) — and only
// one real cluster runs at a time per cache folder, across test binaries
// (a file lock), so parallel packages do not crowd a small machine.
package kafkatest
