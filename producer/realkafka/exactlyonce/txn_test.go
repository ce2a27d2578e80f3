package exactlyonce_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kprod/kprod/internal/kafkatest"
	"github.com/kprod/kprod/producer"
)

// TestTransactionsV2 runs the transaction checks on the three-broker
// cluster, which Kafka 4.4 formats with transaction.version=2 (KIP-890).
func TestTransactionsV2(t *testing.T) {
	transactionChecks(t, three(t), true)
}

// TestTransactionsClassic runs them on a cluster formatted with
// transaction.version=0: the classic protocol, AddPartitionsToTxn before a
// partition's first batch and one epoch per producer session.
func TestTransactionsClassic(t *testing.T) {
	transactionChecks(t, classic(t), false)
}

// TestTransactionsKfake runs the same checks on kfake (three brokers), with
// transactions v2 and, capped at Kafka 3.6's versions, classic: where the
// two engines differ, the logs of the two runs show it (README, "Testing
// against real Kafka").
func TestTransactionsKfake(t *testing.T) {
	t.Run("v2", func(t *testing.T) { transactionChecks(t, kafkatest.NewFake(t, 3), true) })
	t.Run("classic", func(t *testing.T) {
		transactionChecks(t, kafkatest.NewFake(t, 3, kafkatest.ClassicTransactions()), false)
	})
}

func transactionChecks(t *testing.T, k kafkatest.Cluster, v2 bool) {
	if got := kafkatest.Finalized(t, k)["transaction.version"]; (got >= 2) != v2 {
		t.Fatalf("transaction.version finalized at %d, want v2=%v", got, v2)
	}
	var reqs kafkatest.RequestLog // every producer of the checks dials through it
	t.Run("visibility", func(t *testing.T) { checkVisibility(t, k, &reqs) })
	t.Run("fencing", func(t *testing.T) { checkFencing(t, k, &reqs, v2) })
	t.Run("offsets", func(t *testing.T) { checkOffsets(t, k, &reqs) })
	t.Run("concurrent-adds", func(t *testing.T) { checkConcurrentAdds(t, k, &reqs) })
	t.Run("versions", func(t *testing.T) { checkVersions(t, k, &reqs, v2) })
}

// txnProducer is a transactional producer with InitTransactions done.
func txnProducer(t *testing.T, k kafkatest.Cluster, reqs *kafkatest.RequestLog, id string, opts ...producer.Opt) *producer.Producer {
	t.Helper()
	p := newProducer(t, k, append([]producer.Opt{producer.WithTransactionalID(id), producer.WithDialer(reqs.Dial),
		producer.WithLinger(5 * time.Millisecond)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatalf("InitTransactions(%s): %v", id, err)
	}
	return p
}

// found is a record as a reader found it.
type found struct {
	partition int32
	offset    int64
	id        string
}

func foundKgo(recs []*kgo.Record) []found {
	var out []found
	for _, r := range recs {
		id, _, _ := strings.Cut(string(r.Value), "|")
		out = append(out, found{r.Partition, r.Offset, id})
	}
	return out
}

// checkVisible compares what reader found in l's topic with the ledger:
// each record visible says should be there is, once, at its acknowledged
// partition and offset, in send order; no other record is there.
func checkVisible(t *testing.T, reader string, l *ledger, got []found, visible func(*sent) bool) {
	t.Helper()
	want := l.answered(visible)
	wantIDs := map[string]*sent{}
	for _, s := range want {
		if s.err != nil {
			t.Fatalf("%s: record %s failed: %v", l.topic, s.id, s.err)
		}
		wantIDs[s.id] = s
	}
	seen := map[string]bool{}
	last := map[int32]int{}
	for _, r := range got {
		s, ok := wantIDs[r.id]
		switch {
		case !ok:
			t.Errorf("%s %s: %s at %d/%d should not be visible", reader, l.topic, r.id, r.partition, r.offset)
			continue
		case seen[r.id]:
			t.Errorf("%s %s: %s read twice", reader, l.topic, r.id)
			continue
		case s.md.Partition != r.partition || s.md.Offset != r.offset:
			t.Errorf("%s %s: %s acknowledged at %d/%d, read at %d/%d", reader, l.topic, r.id, s.md.Partition, s.md.Offset, r.partition, r.offset)
		}
		if prev, ok := last[r.partition]; ok && s.seq < prev {
			t.Errorf("%s %s: %s read after a record sent later", reader, l.topic, r.id)
		}
		last[r.partition] = s.seq
		seen[r.id] = true
	}
	if len(seen) != len(want) {
		t.Errorf("%s %s: read %d of the %d records that should be visible", reader, l.topic, len(seen), len(want))
	}
}

// checkVisibility writes six transactions over three topics — committed,
// aborted, committed, aborted, committed, committed — with every record of
// an aborted transaction acknowledged (in the log) before the abort. Java's
// read_committed console consumer and kgo's read_committed consumer see
// the committed records and nothing else; kgo's read_uncommitted consumer
// sees all of them where they were acknowledged; each partition holds one
// transaction marker per transaction that wrote to it.
func checkVisibility(t *testing.T, k kafkatest.Cluster, reqs *kafkatest.RequestLog) {
	const topics, partitions, perTopic = 3, 2, 10
	prefix := kafkatest.TopicName(t)
	var ls []*ledger
	for i := range topics {
		l := newLedger(fmt.Sprintf("%s.t%d", prefix, i))
		k.CreateTopic(t, l.topic, partitions, 0, nil)
		ls = append(ls, l)
	}
	p := txnProducer(t, k, reqs, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	outcomes := []bool{true, false, true, false, true, true} // commit?
	committed := map[string]bool{}                           // transaction tag -> committed
	redone := map[string]error{}                             // tags of transactions that could not commit
	for x, commit := range outcomes {
		for attempt := 0; ; attempt++ {
			if attempt == 20 {
				t.Fatalf("transaction %d failed %d times: %v", x, attempt, redone)
			}
			tag := fmt.Sprintf("x%da%d", x, attempt)
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for i := range perTopic {
				for ti, l := range ls {
					l.send(ctx, p, int32(i%partitions), fmt.Sprintf("t%d-%s-%02d", ti, tag, i), 20)
				}
			}
			var err error
			if commit {
				err = p.CommitTransaction(ctx)
			} else {
				if err = p.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				err = p.AbortTransaction(ctx)
			}
			if err == nil {
				committed[tag] = commit
				break
			}
			if !commit || !concurrentTxnBug(err) {
				t.Fatalf("transaction %s (commit=%v): %v", tag, commit, err)
			}
			// The known producer bug (checkConcurrentAdds): a record
			// failed, so the transaction cannot commit. Abort it and
			// write it again, as an application would.
			redone[tag] = err
			committed[tag] = false
			if err := p.AbortTransaction(ctx); err != nil {
				t.Fatalf("aborting %s: %v", tag, err)
			}
		}
	}
	if len(redone) > 0 {
		t.Logf("%d transactions could not commit and were aborted and written again: %v", len(redone), redone)
	}
	tagOf := func(s *sent) string { return strings.Split(s.id, "-")[1] }
	for _, l := range ls {
		l.wait(t, time.Minute)
		for _, s := range l.answered(func(s *sent) bool { return s.err != nil }) {
			if committed[tagOf(s)] || !errors.Is(s.err, kerr.ConcurrentTransactions) {
				t.Fatalf("%s: %v (every record, also of the aborted transactions, is flushed before its end)", s.id, s.err)
			}
		}
	}
	isCommitted := func(s *sent) bool { return committed[tagOf(s)] }
	isWritten := func(s *sent) bool { return s.err == nil }
	for _, l := range ls {
		got := kafkatest.ReadRecords(t, k.Addrs(), l.topic, len(l.answered(isCommitted)), kafkatest.ReadOptions{ReadCommitted: true, Settle: time.Second})
		checkVisible(t, "kgo read_committed", l, foundKgo(got), isCommitted)
		all := kafkatest.ReadRecords(t, k.Addrs(), l.topic, len(l.answered(isWritten)), kafkatest.ReadOptions{Settle: 500 * time.Millisecond})
		checkVisible(t, "kgo read_uncommitted", l, foundKgo(all), isWritten)
		for part := range int32(partitions) {
			markers := 0
			for _, b := range kafkatest.Batches(t, k, l.topic, part) {
				switch {
				case b.Control:
					markers++
				case !b.Transactional:
					t.Errorf("%s/%d: batch at %d not marked transactional", l.topic, part, b.BaseOffset)
				}
			}
			// One marker per transaction that wrote to the partition.
			wrote := map[string]bool{}
			for _, s := range l.answered(func(s *sent) bool { return s.err == nil && s.partition == part }) {
				wrote[tagOf(s)] = true
			}
			if markers < len(wrote) || markers > len(committed) || len(redone) == 0 && markers != len(wrote) {
				t.Errorf("%s/%d: %d transaction markers; %d transactions wrote to it", l.topic, part, markers, len(wrote))
			}
		}
	}
	nCommitted := 0
	for _, c := range committed {
		if c {
			nCommitted++
		}
	}
	if k.Engine() != kafkatest.EngineKafka {
		return // the Java reader runs where the jars are, against real Kafka
	}
	// Java's console consumer, read_committed, all three topics in one run.
	java := kafkatest.ConsoleConsume(t, k.Addrs(), "", topics*nCommitted*perTopic, kafkatest.ConsoleOptions{
		ReadCommitted: true, Include: strings.ReplaceAll(prefix, ".", `\.`) + `\.t[0-9]`,
	})
	byTopic := make([][]found, topics)
	for _, r := range java {
		id, _, _ := strings.Cut(string(r.Value), "|")
		var ti int
		if _, err := fmt.Sscanf(id, "t%d-", &ti); err != nil || ti < 0 || ti >= topics {
			t.Fatalf("java read a record that is none of ours: %q", r.Value)
		}
		byTopic[ti] = append(byTopic[ti], found{r.Partition, r.Offset, id})
	}
	for ti, l := range ls {
		checkVisible(t, "java read_committed", l, byTopic[ti], isCommitted)
	}
	t.Logf("%d transactions (%d committed) over %d topics of %d partitions: kgo and Java read_committed saw the %d committed records, each at its acknowledged offset",
		len(committed), nCommitted, topics, partitions, topics*nCommitted*perTopic)
}

// checkFencing: producer A commits a transaction, opens a second one and
// gets its records into the log; producer B starts with the same
// transactional id. A is fenced: the record it sends next and its commit
// fail with ErrFenced, and so does a new transaction. B's InitTransactions
// aborted A's open transaction: read_committed shows A's first transaction
// and B's, nothing of A's second.
func checkFencing(t *testing.T, k kafkatest.Cluster, reqs *kafkatest.RequestLog, v2 bool) {
	topic := kafkatest.TopicName(t)
	k.CreateTopic(t, topic, 1, 0, nil)
	l := newLedger(topic)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := txnProducer(t, k, reqs, topic, producer.WithClientID("zombie"))
	send := func(p *producer.Producer, tag string, n int) {
		for i := range n {
			l.send(ctx, p, 0, fmt.Sprintf("%s-%d", tag, i), 10)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// open begins a transaction and gets n records of it into the log; it
	// returns the tag of their ids. The known producer bug
	// (checkConcurrentAdds) can fail a record; then the transaction is
	// aborted and written again.
	open := func(p *producer.Producer, name string, n int) string {
		t.Helper()
		for attempt := range 20 {
			tag := fmt.Sprintf("%s.%d", name, attempt)
			must(p.BeginTransaction())
			send(p, tag, n)
			must(p.Flush(ctx))
			failed := l.answered(func(s *sent) bool { return strings.HasPrefix(s.id, tag+"-") && s.err != nil })
			if len(failed) == 0 {
				return tag
			}
			if !errors.Is(failed[0].err, kerr.ConcurrentTransactions) {
				t.Fatalf("%s: %v", failed[0].id, failed[0].err)
			}
			must(p.AbortTransaction(ctx))
		}
		t.Fatalf("%s: 20 attempts failed", name)
		return ""
	}
	a1 := open(a, "a1", 5)
	must(a.CommitTransaction(ctx))
	open(a, "a2", 5)

	b := txnProducer(t, k, reqs, topic, producer.WithClientID("successor"))

	// A does not know yet: its next record and its commit find out.
	send(a, "a3", 1)
	waitFor(t, l, func(s *sent) bool { return strings.HasPrefix(s.id, "a3-") }, 1, time.Minute)
	a3 := l.answered(func(s *sent) bool { return strings.HasPrefix(s.id, "a3-") })[0]
	commitErr := a.CommitTransaction(ctx)
	beginErr := a.BeginTransaction()
	if k.Engine() == kafkatest.EngineKfake && !v2 {
		// kfake's classic coordinator answers the zombie's Produce with
		// INVALID_TXN_STATE where real Kafka says INVALID_PRODUCER_EPOCH:
		// the producer sees an abortable transaction, not a fence.
		if !errors.Is(a3.err, kerr.InvalidTxnState) || !errors.Is(commitErr, producer.ErrAbortable) {
			t.Errorf("kfake, classic: record %v, commit %v; want INVALID_TXN_STATE and an abortable transaction", a3.err, commitErr)
		}
	} else {
		if !errors.Is(a3.err, producer.ErrFenced) {
			t.Errorf("a record the fenced producer sent: %v, want ErrFenced", a3.err)
		}
		if !errors.Is(commitErr, producer.ErrFenced) {
			t.Errorf("the fenced producer's commit: %v, want ErrFenced", commitErr)
		}
		if !errors.Is(beginErr, producer.ErrFenced) {
			t.Errorf("a new transaction on the fenced producer: %v, want ErrFenced", beginErr)
		}
	}
	t.Logf("fenced producer: record: %v; commit: %v; begin: %v", a3.err, commitErr, beginErr)

	b1 := open(b, "b1", 5)
	must(b.CommitTransaction(ctx))
	l.wait(t, time.Minute)

	visible := func(s *sent) bool { return strings.HasPrefix(s.id, a1+"-") || strings.HasPrefix(s.id, b1+"-") }
	got := kafkatest.ReadRecords(t, k.Addrs(), topic, 10, kafkatest.ReadOptions{ReadCommitted: true, Settle: time.Second})
	checkVisible(t, "kgo read_committed", l, foundKgo(got), visible)
	inLog := func(s *sent) bool { return s.err == nil }
	all := kafkatest.ReadRecords(t, k.Addrs(), topic, len(l.answered(inLog)), kafkatest.ReadOptions{Settle: 500 * time.Millisecond})
	checkVisible(t, "kgo read_uncommitted", l, foundKgo(all), inLog)
	var epochs []string
	for _, bt := range kafkatest.Batches(t, k, topic, 0) {
		epochs = append(epochs, fmt.Sprintf("%d/%d%s", bt.ProducerID, bt.ProducerEpoch, map[bool]string{true: "(marker)"}[bt.Control]))
	}
	t.Logf("batches' producer id/epoch in the log: %v", epochs)
}

// checkOffsets runs a consume-transform-produce loop with a kgo consumer in
// a real consumer group: each polled batch is written to the output and its
// input positions committed through SendOffsetsToTransaction, in one
// transaction. After each commit, the group's committed offsets, read back
// with OffsetFetch, are the positions after the batch; one transaction in
// the middle is aborted, the offsets stay where they were, and a new
// consumer resumes from them. At the end the group's offsets are the input's
// end, and read_committed shows each input record exactly once in the
// output, in input order per partition.
func checkOffsets(t *testing.T, k kafkatest.Cluster, reqs *kafkatest.RequestLog) {
	const partitions, inputs, perTxn = 3, 600, 70
	in, out := kafkatest.TopicName(t), kafkatest.TopicName(t)
	group := in + ".group"
	k.CreateTopic(t, in, partitions, 0, nil)
	k.CreateTopic(t, out, partitions, 0, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fill := newLedger(in)
	filler := newProducer(t, k)
	for i := range inputs {
		fill.send(ctx, filler, int32(i%partitions), fmt.Sprintf("in-%04d", i), 10)
	}
	fill.wait(t, time.Minute)

	p := txnProducer(t, k, reqs, group)
	consumer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll())
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	cl := consumer()
	defer func() { cl.Close() }()
	outL := newLedger(out)
	want := []int64{-1, -1, -1} // the group's committed offsets as they should be
	done, txns, aborted, forced := 0, 0, false, 0
	for attempt := 0; done < inputs; attempt++ {
		recs := cl.PollRecords(ctx, perTxn).Records()
		if ctx.Err() != nil {
			t.Fatalf("after %d records: %v", done, ctx.Err())
		}
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		next := map[int32]producer.OffsetAndMetadata{}
		for _, r := range recs {
			id, _, _ := strings.Cut(string(r.Value), "|")
			outL.send(ctx, p, r.Partition, fmt.Sprintf("out-%s-a%d", id, attempt), 10)
			next[r.Partition] = producer.OffsetAndMetadata{Offset: r.Offset + 1, LeaderEpoch: r.LeaderEpoch}
		}
		member, gen := cl.GroupMetadata()
		if err := p.SendOffsetsToTransaction(ctx, map[string]map[int32]producer.OffsetAndMetadata{in: next},
			producer.GroupMetadata{GroupID: group, Generation: gen, MemberID: member}); err != nil {
			t.Fatalf("SendOffsetsToTransaction: %v", err)
		}
		onPurpose := txns == 2 && !aborted
		var err error
		if !onPurpose {
			err = p.CommitTransaction(ctx)
			if err != nil && !concurrentTxnBug(err) {
				t.Fatalf("commit: %v", err)
			}
		}
		if onPurpose || err != nil {
			// Aborted, on purpose or by the known producer bug
			// (checkConcurrentAdds): the offsets must not move, and a
			// new consumer reads the records again from them.
			if onPurpose {
				aborted = true
			} else {
				forced++
			}
			if err := p.AbortTransaction(ctx); err != nil {
				t.Fatal(err)
			}
			if got := kafkatest.CommittedOffsets(t, k, group, in, partitions); !slices.Equal(got, want) {
				t.Fatalf("after an aborted transaction the group's offsets are %v, want %v as before", got, want)
			}
			cl.AllowRebalance()
			cl.Close()
			cl = consumer()
			continue
		}
		for part, o := range next {
			want[part] = o.Offset
		}
		if got := kafkatest.CommittedOffsets(t, k, group, in, partitions); !slices.Equal(got, want) {
			t.Fatalf("after transaction %d the group's offsets are %v, want %v", txns, got, want)
		}
		done += len(recs)
		txns++
		cl.AllowRebalance()
	}
	outL.wait(t, time.Minute)
	ends := kafkatest.EndOffsets(t, k.Addrs(), in, partitions)
	if got := kafkatest.CommittedOffsets(t, k, group, in, partitions); !slices.Equal(got, ends) {
		t.Errorf("the group's committed offsets %v, the input ends at %v", got, ends)
	}

	// Exactly once: the committed output is the input, record for record,
	// partition by partition.
	got := kafkatest.ReadRecords(t, k.Addrs(), out, inputs, kafkatest.ReadOptions{ReadCommitted: true, Settle: time.Second})
	perPart := map[int32][]string{}
	for _, r := range got {
		v, _, _ := strings.Cut(string(r.Value), "|")
		v = strings.TrimPrefix(v, "out-")
		v = v[:strings.LastIndex(v, "-a")]
		perPart[r.Partition] = append(perPart[r.Partition], v)
	}
	for part := range int32(partitions) {
		var wantIDs []string
		for i := int(part); i < inputs; i += partitions {
			wantIDs = append(wantIDs, fmt.Sprintf("in-%04d", i))
		}
		if !slices.Equal(perPart[part], wantIDs) {
			t.Errorf("output partition %d holds %d records, want the %d of input partition %d in order (first: %v)",
				part, len(perPart[part]), len(wantIDs), part, perPart[part][:min(3, len(perPart[part]))])
		}
	}
	t.Logf("%d input records through %d committed transactions and 1 aborted one (and %d aborted by the CONCURRENT_TRANSACTIONS bug); the group's offsets %v match the input's end; output exactly once",
		inputs, txns, forced, ends)
}

// checkVersions records which request versions kprod sent in the checks
// above, and how they match what the broker offers.
func checkVersions(t *testing.T, k kafkatest.Cluster, reqs *kafkatest.RequestLog, v2 bool) {
	offered := map[int16][2]int16{}
	for _, key := range kafkatest.APIVersions(t, k).ApiKeys {
		offered[key.ApiKey] = [2]int16{key.MinVersion, key.MaxVersion}
	}
	sent := reqs.Versions()
	var lines []string
	for _, key := range []kmsg.Key{kmsg.ApiVersions, kmsg.Metadata, kmsg.FindCoordinator, kmsg.InitProducerID, kmsg.Produce,
		kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.TxnOffsetCommit, kmsg.EndTxn} {
		o := offered[int16(key)]
		lines = append(lines, fmt.Sprintf("%-18s sent %v, broker offers v%d–v%d", kmsg.NameForKey(int16(key)), sent[int16(key)], o[0], o[1]))
	}
	t.Logf("requests sent by kprod (transaction.version %s):\n%s", map[bool]string{true: "2", false: "0"}[v2], strings.Join(lines, "\n"))
	last := func(key kmsg.Key) int16 {
		vs := sent[int16(key)]
		if len(vs) == 0 {
			return -1
		}
		return vs[len(vs)-1]
	}
	// Every key at the highest version both sides speak, except where
	// kprod holds a request to the shape it fills in (internal/txn):
	// AddPartitionsToTxn v4+ is the broker-to-broker form, EndTxn v5 is
	// transactions v2 only, TxnOffsetCommit v6 names topics by id.
	caps := map[int16]int16{int16(kmsg.AddPartitionsToTxn): 3, int16(kmsg.EndTxn): 4, int16(kmsg.TxnOffsetCommit): 5}
	if v2 {
		caps[int16(kmsg.EndTxn)] = 5
	}
	for key, vs := range sent {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		want := min(offered[key][1], req.MaxVersion())
		if c, ok := caps[key]; ok {
			want = min(want, c)
		}
		// ApiVersions may go first at a version the broker does not
		// know, which it answers with the versions it does.
		if key == int16(kmsg.ApiVersions) && slices.Contains(vs, want) {
			continue
		}
		if len(vs) != 1 || vs[0] != want {
			t.Errorf("%s sent at %v; want v%d only", kmsg.NameForKey(key), vs, want)
		}
	}
	if v2 {
		if v := last(kmsg.Produce); v < 12 {
			t.Errorf("Produce sent at v%d; transactions v2 needs v12+", v)
		}
		if v := last(kmsg.EndTxn); v < 5 {
			t.Errorf("transactions v2: EndTxn sent at v%d, want 5+", v)
		}
		if n := reqs.Count(int16(kmsg.AddPartitionsToTxn)); n != 0 {
			t.Errorf("transactions v2: %d AddPartitionsToTxn requests; partitions join through Produce", n)
		}
	} else {
		if v := last(kmsg.EndTxn); v < 0 || v > 4 {
			t.Errorf("classic transactions: EndTxn sent at v%d, want 0–4", v)
		}
		if n := reqs.Count(int16(kmsg.AddPartitionsToTxn)); n == 0 {
			t.Errorf("classic transactions: no AddPartitionsToTxn request")
		}
	}
	t.Logf("all requests: %v", reqs)
}

// concurrentTxnBug reports whether err is the known producer bug that
// checkConcurrentAdds shows: a transaction made abortable because one of its
// records was answered CONCURRENT_TRANSACTIONS, which is not retried.
func concurrentTxnBug(err error) bool {
	return errors.Is(err, producer.ErrAbortable) && errors.Is(err, kerr.ConcurrentTransactions)
}

// checkConcurrentAdds commits 20 transactions, each writing to six
// partitions led by every broker of the cluster at once. With transactions
// v2 each leader adds its partitions to the transaction at the coordinator
// itself when the first batch arrives; the coordinator answers the adds
// that come while another is being written with CONCURRENT_TRANSACTIONS,
// and the leader passes that on in the Produce answer. Kafka 4.4's Java
// client retries it (ConcurrentTransactionsException is a
// RetriableException); franz-go's kerr marks it not retriable, and kprod
// fails the record, so the transaction can only abort.
func checkConcurrentAdds(t *testing.T, k kafkatest.Cluster, reqs *kafkatest.RequestLog) {
	const partitions, txns = 6, 20
	topic := kafkatest.TopicName(t)
	k.CreateTopic(t, topic, partitions, 0, nil)
	l := newLedger(topic)
	p := txnProducer(t, k, reqs, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	committed := map[string]bool{}
	var failures []string
	for x := range txns {
		tag := fmt.Sprintf("x%02d", x)
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 2 * partitions {
			l.send(ctx, p, int32(i%partitions), fmt.Sprintf("%s-%02d", tag, i), 10)
		}
		err := p.CommitTransaction(ctx)
		if err == nil {
			committed[tag] = true
			continue
		}
		if !errors.Is(err, producer.ErrAbortable) {
			t.Fatalf("transaction %s: %v", tag, err)
		}
		failures = append(failures, fmt.Sprintf("%s: %v", tag, err))
		if err := p.AbortTransaction(ctx); err != nil {
			t.Fatalf("aborting %s: %v", tag, err)
		}
	}
	l.wait(t, time.Minute)
	var causes []string
	for _, s := range l.answered(func(s *sent) bool { return s.err != nil }) {
		if !errors.Is(s.err, kerr.ConcurrentTransactions) {
			t.Errorf("%s failed with %v", s.id, s.err)
		}
		causes = append(causes, s.id)
	}
	isCommitted := func(s *sent) bool { return committed[strings.Split(s.id, "-")[0]] }
	got := kafkatest.ReadRecords(t, k.Addrs(), topic, len(l.answered(isCommitted)), kafkatest.ReadOptions{ReadCommitted: true, Settle: time.Second})
	checkVisible(t, "kgo read_committed", l, foundKgo(got), isCommitted)
	t.Logf("%d of %d transactions committed; %d records failed with CONCURRENT_TRANSACTIONS", len(committed), txns, len(causes))
	if len(failures) > 0 {
		msg := fmt.Sprintf("%d of %d transactions could not commit: %d records failed with CONCURRENT_TRANSACTIONS, which the producer does not retry (Kafka 4.4's Java client does); e.g. %s",
			len(failures), txns, len(causes), failures[0])
		t.Error(msg)
	}
}
