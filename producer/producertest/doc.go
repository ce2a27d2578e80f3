// Package producertest is what a service's tests need in place of a Kafka
// cluster, as net/http/httptest is for HTTP: MockProducer, a
// producer.TxnClient that records every send and answers each one at once
// or when the test says so; and Cluster, an embedded in-process Kafka
// cluster (kfake) with the faults a service should survive — failed produce
// requests, dropped connections, moved leaders, stopped brokers — and a
// reader to check what landed.
//
// Take a producer.Client (or producer.TxnClient) in the code under test; the
// service passes a *producer.Producer, unit tests a *MockProducer, and
// integration tests a *producer.Producer connected to a Cluster.
package producertest
