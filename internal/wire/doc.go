// Package wire owns kprod's connections to Kafka brokers.
//
// A [Conn] is one TCP (optionally TLS) connection that has negotiated
// protocol versions with ApiVersions and, when configured, authenticated
// with SASL. Requests are pipelined: [Conn.Send] writes each request in the
// caller's goroutine, in call order, and a single reader goroutine matches
// the responses, which Kafka returns in request order, by correlation id.
//
// A [Pool] holds the connections to one cluster: one per broker and
// [Purpose], so produce requests never queue behind metadata or
// transaction requests. [Pool.Ready] is the producer sender's view: it never
// blocks, dials in the background, and reports through [Config.OnChange]
// when something changed. [Pool.Conn] and [Pool.Any] are the blocking forms
// used by control requests.
//
// Message structs come from franz-go's kmsg package; error codes from kerr;
// SASL mechanisms from its sasl packages.
//
//	pool, err := wire.NewPool(&wire.Config{ClientID: "svc"}, []string{"localhost:9092"})
//	if err != nil {
//		return err
//	}
//	defer pool.Close()
//	conn, err := pool.Any(ctx)
//	if err != nil {
//		return err
//	}
//	resp, err := conn.Request(ctx, kmsg.NewPtrMetadataRequest())
package wire
