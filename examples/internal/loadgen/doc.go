// Package loadgen is the load generator and the measurement helpers shared
// by kprod's perf tool (examples/perf) and its benchmark harness
// (examples/benchcmp); it is not a user API and may change with them.
//
// It holds one copy of what both tools need: [Gen.Run], the loop that paces
// records out and times some of them through recycled [Slot]s; [Tally], which
// counts the answers with a log-linear latency histogram; [ParseProps] for
// Java-style producer properties given on a command line; and CPU and
// allocation profile setup.
package loadgen
