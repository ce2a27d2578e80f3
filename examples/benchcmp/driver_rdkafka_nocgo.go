//go:build !cgo

package main

import "fmt"

// newRdkafka fails without cgo: confluent-kafka-go links librdkafka with it.
func newRdkafka(driverConfig) (driver, error) {
	return nil, fmt.Errorf("%w: %s needs cgo (CGO_ENABLED=1 and a C compiler)", errNotBuilt, libRdkafka)
}

// rdkafkaBuilt says whether this build has the librdkafka driver.
const rdkafkaBuilt = false
