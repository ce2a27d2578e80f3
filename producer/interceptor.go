package producer

// Interceptor sees every record on its way in and every answer on its way
// out (Java ProducerInterceptor). OnSend runs on the caller's goroutine
// before partitioning, with the producer's copy of the caller's Record (its
// slices are the caller's: replace them rather than writing into them), and
// may change it or return a replacement (nil keeps the record as it is).
// OnAcknowledgement
// runs on the callback goroutine just before the record's callback; a
// panic there is recovered and logged like a callback's, and the record's
// callback still runs. Both must be fast and safe for concurrent use.
type Interceptor interface {
	OnSend(rec *Record) *Record
	OnAcknowledgement(md RecordMetadata, err error)
}

// InterceptorFuncs adapts a pair of functions to Interceptor; either may be nil.
type InterceptorFuncs struct {
	Send func(rec *Record) *Record
	Ack  func(md RecordMetadata, err error)
}

// OnSend calls f.Send when set.
func (f InterceptorFuncs) OnSend(rec *Record) *Record {
	if f.Send == nil {
		return nil
	}
	return f.Send(rec)
}

// OnAcknowledgement calls f.Ack when set.
func (f InterceptorFuncs) OnAcknowledgement(md RecordMetadata, err error) {
	if f.Ack != nil {
		f.Ack(md, err)
	}
}
