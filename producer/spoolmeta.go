package producer

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// spoolMeta is what the producer writes beside a batch in the disk spool
// (the entry's metadata): where the batch goes and under which stamp. A
// stamp entry carries no batch: it gives the batch of entry `of` a new
// stamp, written before the batch goes out under it (see spooler.restamp).
//
// Encoding (big-endian), version 1:
//
//	0  1 version      1
//	1  1 kind         1 = batch, 2 = stamp
//	2  1 flags        bit 0: stamped (producerID, epoch and seq mean something)
//	3  4 partition
//	7  8 producer id
//	15 2 epoch
//	17 4 base sequence
//	21 4 records
//	25 4 raw length   the batch's size before compression
//	29 8 of           kind 2: the entry id of the batch restamped; 0 for kind 1
//	37 8 life         which producer spooled it: above every id in the spool when it opened
//	45 8 order        its place in its partition's queue in that producer
//	53 2 topic length, then the topic
type spoolMeta struct {
	kind       uint8
	stamped    bool
	topic      string
	partition  int32
	producerID int64
	epoch      int16
	seq        int32
	records    int32
	rawLen     int32
	of         uint64
	life       uint64 // with order: where an unstamped batch goes in its partition's replay
	order      uint64
}

const (
	spoolMetaVersion = 1
	spoolKindBatch   = 1
	spoolKindStamp   = 2
	spoolMetaFixed   = 55
)

// errSpoolMeta is why an entry's metadata cannot be read: the entry is
// reported and left out of the replay.
var errSpoolMeta = errors.New("unreadable spool entry metadata")

func (m *spoolMeta) appendTo(b []byte) []byte {
	flags := byte(0)
	if m.stamped {
		flags = 1
	}
	b = append(b, spoolMetaVersion, m.kind, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(m.partition))
	b = binary.BigEndian.AppendUint64(b, uint64(m.producerID))
	b = binary.BigEndian.AppendUint16(b, uint16(m.epoch))
	b = binary.BigEndian.AppendUint32(b, uint32(m.seq))
	b = binary.BigEndian.AppendUint32(b, uint32(m.records))
	b = binary.BigEndian.AppendUint32(b, uint32(m.rawLen))
	b = binary.BigEndian.AppendUint64(b, m.of)
	b = binary.BigEndian.AppendUint64(b, m.life)
	b = binary.BigEndian.AppendUint64(b, m.order)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.topic)))
	return append(b, m.topic...)
}

// parseSpoolMeta decodes b; anything but a whole, sensible version-1
// encoding fails with errSpoolMeta.
func parseSpoolMeta(b []byte) (spoolMeta, error) {
	var m spoolMeta
	if len(b) < spoolMetaFixed {
		return m, fmt.Errorf("%w: %d bytes", errSpoolMeta, len(b))
	}
	if b[0] != spoolMetaVersion {
		return m, fmt.Errorf("%w: version %d", errSpoolMeta, b[0])
	}
	m.kind, m.stamped = b[1], b[2]&1 != 0
	if (m.kind != spoolKindBatch && m.kind != spoolKindStamp) || b[2]&^1 != 0 {
		return m, fmt.Errorf("%w: kind %d flags %#x", errSpoolMeta, b[1], b[2])
	}
	m.partition = int32(binary.BigEndian.Uint32(b[3:]))
	m.producerID = int64(binary.BigEndian.Uint64(b[7:]))
	m.epoch = int16(binary.BigEndian.Uint16(b[15:]))
	m.seq = int32(binary.BigEndian.Uint32(b[17:]))
	m.records = int32(binary.BigEndian.Uint32(b[21:]))
	m.rawLen = int32(binary.BigEndian.Uint32(b[25:]))
	m.of = binary.BigEndian.Uint64(b[29:])
	m.life = binary.BigEndian.Uint64(b[37:])
	m.order = binary.BigEndian.Uint64(b[45:])
	n := int(binary.BigEndian.Uint16(b[53:]))
	if len(b) != spoolMetaFixed+n {
		return m, fmt.Errorf("%w: topic of %d bytes in %d", errSpoolMeta, n, len(b)-spoolMetaFixed)
	}
	m.topic = string(b[spoolMetaFixed:])
	switch {
	case m.partition < 0, m.records <= 0 && m.kind == spoolKindBatch, m.rawLen < 0, m.topic == "",
		m.stamped && (m.producerID < 0 || m.epoch < 0 || m.seq < 0),
		m.kind == spoolKindStamp && (m.of == 0 || !m.stamped),
		m.kind == spoolKindBatch && m.of != 0:
		return m, fmt.Errorf("%w: %+v", errSpoolMeta, m)
	}
	return m, nil
}
