// Package exactlyonce holds tests only: kprod's idempotent and
// transactional producer against real Apache Kafka 4.4 (KRaft), where
// kfake can only imitate — a leader killed with SIGKILL mid-stream on three
// replicated brokers, an ISR too small for min.insync.replicas, the real
// transaction coordinator with transactions v2 and with the classic flow,
// zombie fencing, offsets committed through a transaction for a real
// consumer group. What was written is read back by readers that share no
// code with kprod: kgo's consumer (read_committed where it matters), raw
// Fetch requests whose batch headers show the sequence numbers the broker
// accepted, and Java's console consumer.
//
// Clusters come from a kafkatest.Shared: the three-broker cluster for the
// tests in idempotence_test.go, replicas_test.go and the transactions v2
// tests, then a one-node cluster formatted with transaction.version=0 for
// the classic flow. The tests named ...Kfake run the same checks on kfake,
// to show where it differs. Without the jars every real-Kafka test skips
// with one line naming kafka/fetch.sh; under CI they fail instead.
package exactlyonce
