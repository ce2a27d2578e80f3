// Package interop reads back what kprod wrote with clients that share no code
// with it, so a mistake in our encoder cannot hide behind the same mistake in
// our own reader.
//
// Today the reader is kcat (librdkafka). [Consume] runs kcat with its JSON
// envelope and [ParseLine] turns each line into a [Message] that keeps keys,
// values and headers byte for byte, null apart from empty. The tests of this
// package produce with kprod for every codec and compare what kcat saw field
// by field; they skip when kcat is not installed, except under CI (the CI
// environment variable set), where a missing kcat is a failure.
package interop
