package sqlcommon

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

// Row is an event as the columns of the events table hold it. The columns
// are copies for filtering and indexing; Doc, the native JSON, is what
// Get, Query and Each return.
type Row struct {
	ID, Action, Area, Outcome, Severity string
	ActorID, ActorName                  string
	TargetType, TargetID, TargetName    string
	Country, IP, Description, App, Rule string
	Seq                                 int64
	Time                                time.Time  // truncated to the microsecond, UTC
	Addr                                netip.Addr // Source.IP parsed and unmapped; invalid when it does not parse
	Doc                                 []byte
}

// native is the json format: AppendJSON's document on one line and valid
// UTF-8, which every engine can store as text.
var native = mustFormat("json")

func mustFormat(name string) format.Format {
	f, err := format.Get(name)
	if err != nil {
		panic(err)
	}
	return f
}

// NewRow fills a Row from ev, appending the document to buf (which may be
// nil) so that a batch can reuse one buffer.
//
// Text columns are made valid UTF-8 without NUL bytes: PostgreSQL refuses
// both in text, and a request can carry them into a description. The
// document keeps the exact values (JSON escapes them).
func NewRow(ev *event.Event, buf []byte) Row {
	r := Row{
		ID:          Clean(ev.ID),
		Time:        ev.Time.UTC().Truncate(time.Microsecond),
		Action:      Clean(ev.Action),
		Area:        Clean(ev.Area),
		Outcome:     Clean(string(ev.Outcome)),
		Severity:    Clean(string(ev.Severity)),
		ActorID:     Clean(ev.Actor.ID),
		ActorName:   Clean(ev.Actor.Name),
		TargetType:  Clean(ev.Target.Type),
		TargetID:    Clean(ev.Target.ID),
		TargetName:  Clean(ev.Target.Name),
		Country:     Clean(ev.Source.Country),
		IP:          Clean(ev.Source.IP),
		Description: Clean(ev.Description),
		App:         Clean(ev.App),
		Rule:        Clean(ev.Rule),
		Seq:         ev.Seq,
		Doc:         native.Append(buf, ev),
	}
	if a, err := netip.ParseAddr(ev.Source.IP); err == nil {
		r.Addr = a.Unmap().WithZone("")
	}
	return r
}

// Clean is s as the text columns hold it: valid UTF-8 without NUL bytes.
// Values compared with those columns (filters, ids) go through it too.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

// Decode reads a stored document into ev.
func Decode(doc []byte, ev *event.Event) error {
	*ev = event.Event{}
	if err := json.Unmarshal(doc, ev); err != nil {
		return fmt.Errorf("decoding stored event: %w", err)
	}
	return nil
}

// IPRange is the inclusive range of 16-byte addresses (IPv4 mapped into
// IPv6) a valid prefix covers, for engines that compare addresses as bytes.
// A prefix of an IPv4-mapped address counts as the IPv4 prefix, as stored
// addresses are unmapped. An IPv6 prefix never matches IPv4 addresses (as
// with PostgreSQL's inet): v4 is set when the range holds them, and the
// engine must then leave the mapped range (V4Lo..V4Hi) out.
func IPRange(p netip.Prefix) (lo, hi [16]byte, v4 bool) {
	p = Unmapped(p)
	a, bits := p.Addr(), p.Bits()
	if a.Is4() {
		bits += 96
	}
	lo = a.As16()
	hi = lo
	for i := bits; i < 128; i++ {
		lo[i/8] &^= 1 << (7 - i%8)
		hi[i/8] |= 1 << (7 - i%8)
	}
	v4 = a.Is6() && p.Overlaps(mapped)
	return lo, hi, v4
}

// mapped is the IPv4-mapped range, ::ffff:0:0/96.
var mapped = netip.MustParsePrefix("::ffff:0:0/96")

// V4Lo and V4Hi bound the IPv4-mapped range.
var V4Lo, V4Hi = [16]byte{10: 0xff, 11: 0xff}, [16]byte{10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}

// Unmapped is p masked, with an IPv4-mapped address as the IPv4 prefix it
// means and without a zone.
func Unmapped(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() && bits >= 96 {
		return netip.PrefixFrom(a.Unmap(), bits-96).Masked()
	}
	return netip.PrefixFrom(a, bits).Masked()
}
