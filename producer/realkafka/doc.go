// Package realkafka holds tests only: kprod's producer against a real
// Apache Kafka 4.4 broker (KRaft), started once for the package from the
// jars kafka/fetch.sh caches, with what was written read back by clients
// that share no code with kprod — franz-go's kgo consumer, kcat
// (librdkafka) and Java's console consumer — and keyed records placed by Java's own console
// producer to compare partitions with.
//
// Without the jars every test here skips with one line naming
// kafka/fetch.sh; under CI they fail instead.
package realkafka
