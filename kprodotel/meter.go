package kprodotel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/messagingconv"

	"github.com/kprod/kprod/producer"
)

// Meter records the producer's metrics: the messaging semantic
// conventions' messaging.client.sent.messages (records answered, with
// error.type for failed ones) and messaging.client.operation.duration (Send
// to answer, in seconds), and kprod's own:
//
//	kprod.producer.batch.size         histogram, By: a batch as written (compressed), per topic
//	kprod.producer.batch.records      histogram, {record}: records per batch, per topic
//	kprod.producer.request.duration   histogram, s: request sent → answered, per broker and API
//	kprod.producer.requests.inflight  up-down counter, {request}: sent and not yet answered, per broker and API
//	kprod.producer.retries            counter, {record}: records sent again after a retriable error, per topic
//	kprod.producer.producer_id.resets counter, {reset}: new producer id or epoch after an error
//
// Every series carries messaging.system=kafka, and messaging.client.id
// when WithClientID was given; request series carry kprod.broker.id and
// kprod.api.name, with error.type for a failed request.
//
// Install it with producer.WithHooks; it is a producer.AckHook, BatchHook,
// RequestHook, RetryHook and ProducerIDHook and is safe for concurrent use.
// Attribute sets are made once per topic (and per broker and API) and
// reused, so a record costs two instrument updates.
type Meter struct {
	sent         messagingconv.ClientSentMessages
	duration     messagingconv.ClientOperationDuration
	batchBytes   metric.Int64Histogram
	batchRecords metric.Int64Histogram
	reqDuration  metric.Float64Histogram
	inflight     metric.Int64UpDownCounter
	retries      metric.Int64Counter
	pidResets    metric.Int64Counter

	base     attribute.Set // system, client id: what every set starts with
	pidOpts  recordOpts    // base, for the producer id resets
	topics   cache[string, *meterTopic]
	failed   cache[failedKey, recordOpts]
	requests cache[requestKey, recordOpts]
}

var (
	_ producer.AckHook        = (*Meter)(nil)
	_ producer.BatchHook      = (*Meter)(nil)
	_ producer.RequestHook    = (*Meter)(nil)
	_ producer.RetryHook      = (*Meter)(nil)
	_ producer.ProducerIDHook = (*Meter)(nil)
)

// meterTopic holds the attribute sets of one topic, made into the options
// the instruments take (so that recording allocates nothing).
type meterTopic struct {
	ok    recordOpts // a record answered without error: operation attributes and destination
	topic recordOpts // batches and retries: system and destination
}

// recordOpts is one attribute set as instrument options.
type recordOpts struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func optsOf(s attribute.Set) recordOpts {
	o := metric.WithAttributeSet(s)
	return recordOpts{add: []metric.AddOption{o}, record: []metric.RecordOption{o}}
}

type failedKey struct{ topic, errorType string }

type requestKey struct {
	broker    int32
	api       string
	errorType string
}

// Attribute keys of kprod's own metrics.
const (
	attrBrokerID = attribute.Key("kprod.broker.id") // the broker's node id (negative for a bootstrap address)
	attrAPI      = attribute.Key("kprod.api.name")  // the request's name in the Kafka protocol, "Produce"
)

// Bucket boundaries: seconds for durations (those the semantic conventions
// advise for messaging.client.operation.duration), bytes and records for
// batches.
var (
	durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	bytesBuckets    = []float64{256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216}
	recordsBuckets  = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}
)

// NewMeter returns a Meter with its instruments made on the meter
// provider. It uses WithMeterProvider and WithClientID. An error means an
// instrument could not be made; the Meter still works, with the
// instruments that could be (the others record nothing).
func NewMeter(opts ...Option) (*Meter, error) {
	c := newConfig(opts)
	mt := c.mp.Meter(scope, metric.WithSchemaURL(semconv.SchemaURL))
	m := &Meter{}
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	m.sent, err = messagingconv.NewClientSentMessages(mt)
	note(err)
	m.duration, err = messagingconv.NewClientOperationDuration(mt, metric.WithExplicitBucketBoundaries(durationBuckets...))
	note(err)
	m.batchBytes, err = mt.Int64Histogram("kprod.producer.batch.size", metric.WithUnit("By"),
		metric.WithDescription("Size of a batch a broker acknowledged, as written (compressed, with the batch header)."),
		metric.WithExplicitBucketBoundaries(bytesBuckets...))
	note(err)
	m.batchRecords, err = mt.Int64Histogram("kprod.producer.batch.records", metric.WithUnit("{record}"),
		metric.WithDescription("Records in a batch a broker acknowledged."),
		metric.WithExplicitBucketBoundaries(recordsBuckets...))
	note(err)
	m.reqDuration, err = mt.Float64Histogram("kprod.producer.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from sending a request to a broker to its response or failure."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	note(err)
	m.inflight, err = mt.Int64UpDownCounter("kprod.producer.requests.inflight", metric.WithUnit("{request}"),
		metric.WithDescription("Requests sent to a broker and not yet answered."))
	note(err)
	m.retries, err = mt.Int64Counter("kprod.producer.retries", metric.WithUnit("{record}"),
		metric.WithDescription("Records sent again after a retriable error (counted per batch resend)."))
	note(err)
	m.pidResets, err = mt.Int64Counter("kprod.producer.producer_id.resets", metric.WithUnit("{reset}"),
		metric.WithDescription("Times the idempotent or transactional producer took a new producer id or epoch to recover from an error."))
	note(err)

	// A provider that refuses an instrument may hand back nil: record
	// nothing there rather than panic.
	if m.batchBytes == nil {
		m.batchBytes = noop.Int64Histogram{}
	}
	if m.batchRecords == nil {
		m.batchRecords = noop.Int64Histogram{}
	}
	if m.reqDuration == nil {
		m.reqDuration = noop.Float64Histogram{}
	}
	if m.inflight == nil {
		m.inflight = noop.Int64UpDownCounter{}
	}
	if m.retries == nil {
		m.retries = noop.Int64Counter{}
	}
	if m.pidResets == nil {
		m.pidResets = noop.Int64Counter{}
	}

	base := []attribute.KeyValue{semconv.MessagingSystemKafka}
	if c.clientID != "" {
		base = append(base, semconv.MessagingClientID(c.clientID))
	}
	m.base = attribute.NewSet(base...)
	m.pidOpts = optsOf(m.base)
	return m, errors.Join(errs...)
}

// set makes an attribute set of the base attributes and kvs.
func (m *Meter) set(kvs ...attribute.KeyValue) attribute.Set {
	all := append(m.base.ToSlice(), kvs...)
	return attribute.NewSet(all...)
}

func (m *Meter) topic(name string) *meterTopic {
	if mt, ok := m.topics.load(name); ok {
		return mt
	}
	dest := semconv.MessagingDestinationName(name)
	mt := &meterTopic{
		ok:    optsOf(m.set(semconv.MessagingOperationName("send"), semconv.MessagingOperationTypeSend, dest)),
		topic: optsOf(m.set(dest)),
	}
	return m.topics.store(name, mt)
}

func (m *Meter) failedOpts(topic string, err error) recordOpts {
	k := failedKey{topic, errorType(err)}
	if o, ok := m.failed.load(k); ok {
		return o
	}
	o := optsOf(m.set(semconv.MessagingOperationName("send"), semconv.MessagingOperationTypeSend,
		semconv.MessagingDestinationName(topic), semconv.ErrorTypeKey.String(k.errorType)))
	return m.failed.store(k, o)
}

func (m *Meter) requestOpts(broker int32, api string, err error) recordOpts {
	k := requestKey{broker: broker, api: api}
	if err != nil {
		k.errorType = errorType(err)
	}
	if o, ok := m.requests.load(k); ok {
		return o
	}
	kvs := []attribute.KeyValue{attrBrokerID.Int(int(broker)), attrAPI.String(api)}
	if err != nil {
		kvs = append(kvs, semconv.ErrorTypeKey.String(k.errorType))
	}
	return m.requests.store(k, optsOf(m.set(kvs...)))
}

// OnAck counts the record as sent (with error.type when it failed) and
// records its Send→answer latency. It reads nothing of the caller's
// record: the topic comes from the answer's metadata.
func (m *Meter) OnAck(ctx context.Context, a producer.Ack) {
	topic := a.Metadata.Topic
	var o recordOpts
	if a.Err == nil {
		o = m.topic(topic).ok
	} else {
		o = m.failedOpts(topic, a.Err)
	}
	m.sent.Int64Counter.Add(ctx, 1, o.add...)
	m.duration.Float64Histogram.Record(ctx, a.Latency.Seconds(), o.record...)
}

// OnBatchWritten records an acknowledged batch's size and record count.
func (m *Meter) OnBatchWritten(b producer.BatchWritten) {
	ctx := context.Background()
	o := m.topic(b.Topic).topic.record
	m.batchBytes.Record(ctx, int64(b.Bytes), o...)
	m.batchRecords.Record(ctx, int64(b.Records), o...)
}

// OnRequestSent counts a request in flight.
func (m *Meter) OnRequestSent(r producer.RequestSent) {
	m.inflight.Add(context.Background(), 1, m.requestOpts(r.Broker, r.API, nil).add...)
}

// OnRequestAnswered ends a request in flight and records its latency.
func (m *Meter) OnRequestAnswered(r producer.RequestAnswered) {
	ctx := context.Background()
	m.inflight.Add(ctx, -1, m.requestOpts(r.Broker, r.API, nil).add...)
	m.reqDuration.Record(ctx, r.Latency.Seconds(), m.requestOpts(r.Broker, r.API, r.Err).record...)
}

// OnRetry counts the records of a batch going back to be sent again.
func (m *Meter) OnRetry(r producer.Retry) {
	m.retries.Add(context.Background(), int64(r.Records), m.topic(r.Topic).topic.add...)
}

// OnProducerIDReset counts a move to a new producer id or epoch.
func (m *Meter) OnProducerIDReset(producer.ProducerIDReset) {
	m.pidResets.Add(context.Background(), 1, m.pidOpts.add...)
}
