// Command storebench loads generated events into a store and measures what
// the activity log asks of it: a filtered page, a count, a text search,
// facets, ingest and export rates, and the memory an export holds.
//
//	go run ./store/cmd/storebench                 # 1,000,000 events, SQLite in a temp dir
//	go run ./store/cmd/storebench -n 100000 -runs 50
//	go run ./store/cmd/storebench -engine postgres -dsn 'host=/tmp/pg dbname=bench'
//
// The events: ~500 actors, 50 actions over 10 areas, ~20,000 targets, 20
// countries, spread over the 90 days before now, in time order as they
// would arrive. Times are medians over -runs queries with random actors and
// actions.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/internal/testpg"
	_ "github.com/auditproxy/auditproxy/store/postgres"
	_ "github.com/auditproxy/auditproxy/store/sqlite"
)

func main() {
	var (
		n      = flag.Int("n", 1_000_000, "events to load")
		batch  = flag.Int("batch", 1000, "events per Insert")
		runs   = flag.Int("runs", 200, "queries per measurement")
		engine = flag.String("engine", "sqlite", "sqlite or postgres")
		dsn    = flag.String("dsn", "", "postgres: the database (emptied first); default: a server of its own (initdb + pg_ctl, fsync off) in a temp dir")
		dir    = flag.String("dir", "", "sqlite: directory for the database (default: a temp dir, removed after)")
		prof   = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
		only   = flag.Bool("ingest-only", false, "stop after the ingest")
		load   = flag.Bool("load", true, "load the events; -load=false measures the queries on the database a run with -dir (or -dsn) left")
		from   = flag.Int("from", 0, "sqlite: load events from this one on, into the database a run with -dir and the same -n left with this many (measures ingest at that size without loading all of it again)")
	)
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()

	location := *dsn
	if *engine == "postgres" && location == "" {
		srv := testpg.Start()
		if err := srv.Err(); err != nil {
			fatalf("%v", err)
		}
		atExit = append(atExit, srv.Stop)
		defer srv.Stop()
		var err error
		if location, err = srv.CreateDB(ctx, "bench"); err != nil {
			fatalf("%v", err)
		}
		fmt.Println("postgres: a server of its own, fsync off")
	}
	if *engine == "sqlite" {
		d := *dir
		if d == "" {
			var err error
			if d, err = os.MkdirTemp("", "storebench"); err != nil {
				fatalf("%v", err)
			}
			defer os.RemoveAll(d)
			atExit = append(atExit, func() { os.RemoveAll(d) })
		}
		location = filepath.Join(d, "events.db")
		if *from > 0 && (*dir == "" || !*load) {
			fatalf("-from needs the -dir of an earlier run, and -load")
		}
		if *load && *from == 0 {
			os.Remove(location)
			os.Remove(location + "-wal")
			os.Remove(location + "-shm")
		} else if *dir == "" {
			fatalf("-load=false needs the -dir of an earlier run")
		}
	}
	s, err := store.OpenEngine(ctx, *engine, location)
	if err != nil {
		fatalf("%v", err)
	}
	defer s.Close()
	if *engine == "postgres" && *load {
		// A bench database is emptied first, so every run loads the same.
		if n, err := s.Purge(ctx, time.Now().Add(24*time.Hour)); err != nil || n > 0 {
			log.Printf("emptied the database: %d events removed (%v)", n, err)
		}
	}

	end := time.Now()
	if !*load {
		// The events of the earlier run end at its newest one.
		res, err := s.Query(ctx, store.Filter{}, store.Page{Limit: 1})
		if err != nil || len(res.Events) == 0 {
			fatalf("reading the newest event of the earlier run: %v", err)
		}
		end = res.Events[0].Time.Add(time.Microsecond)
		c, err := s.Count(ctx, store.Filter{})
		if err != nil {
			fatalf("%v", err)
		}
		*n = int(c)
	}
	g := newGen(end, *n)
	fmt.Printf("engine %s, %d events, batches of %d, GOMAXPROCS %d, %s\n", *engine, *n, *batch, runtime.GOMAXPROCS(0), runtime.Version())

	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fatalf("%v", err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *load {
		ingest(ctx, s, g, *from, *n, *batch)
		if *engine == "sqlite" {
			if fi, err := os.Stat(location); err == nil {
				fmt.Printf("database file: %.0f MiB (%.0f bytes/event)\n", float64(fi.Size())/(1<<20), float64(fi.Size())/float64(*n))
			}
		}
	}
	if *only {
		return
	}
	queries(ctx, s, g, *runs)
}

// ingest loads n events in batches. Only the Insert calls are timed, not
// making the events. Besides the whole load's rate it prints the last
// tenth's, the rate at about n events stored, and the bytes the process
// wrote and read per event (the log, checkpoints, page reads).
func ingest(ctx context.Context, s store.Store, g *gen, from, n, batch int) {
	var took, lastTenth, cpu time.Duration
	tenth := n - (n-from)/10
	w0, r0 := procIO()
	buf := make([]event.Event, 0, batch)
	for i := from; i < n; i++ {
		buf = append(buf, g.event(i))
		if len(buf) == batch || i == n-1 {
			start, cpu0 := time.Now(), cpuTime()
			if err := s.Insert(ctx, buf); err != nil {
				fatalf("%v", err)
			}
			d := time.Since(start)
			took += d
			cpu += cpuTime() - cpu0
			if i+1-len(buf) >= tenth {
				lastTenth += d
			}
			buf = buf[:0]
		}
	}
	loaded := n - from
	fmt.Printf("ingest: %d events in %v of Insert calls: %.0f events/s; the last tenth: %.0f events/s\n",
		loaded, took.Round(time.Millisecond), float64(loaded)/took.Seconds(), float64(n-tenth)/lastTenth.Seconds())
	fmt.Printf("ingest CPU: %.1f µs per event (user and system, all threads, during Insert calls)\n", float64(cpu.Microseconds())/float64(loaded))
	if w1, r1 := procIO(); w1 > 0 {
		fmt.Printf("ingest I/O: %.1f KiB written, %.1f KiB read per event\n", float64(w1-w0)/1024/float64(loaded), float64(r1-r0)/1024/float64(loaded))
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf("ingest memory: peak resident %d MiB (the process, SQLite's page cache included); Go heap %d MiB of %d MiB from the OS\n",
		maxRSS()>>20, m.HeapInuse>>20, m.Sys>>20)
}

// maxRSS is the most memory this process has had resident so far, in
// bytes; 0 where the system does not say.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // KiB on Linux
}

// cpuTime is the CPU time this process has used so far: less disturbed
// than elapsed time by whatever else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procIO is the bytes this process has written and read so far, as
// /proc/self/io counts them (page cache included); 0 where there is none.
func procIO() (written, read int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "wchar":
			written, _ = strconv.ParseInt(v, 10, 64)
		case "rchar":
			read, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return written, read
}

// queries measures the reads.
func queries(ctx context.Context, s store.Store, g *gen, runs int) {
	now := g.end
	last28 := now.Add(-28 * 24 * time.Hour)
	r := rand.New(rand.NewPCG(7, 7))
	actor := func() string { return g.actors[r.IntN(len(g.actors))].ID }
	action := func() string { return g.actions[r.IntN(len(g.actions))].name }

	measure := func(name string, fn func() (int, error)) {
		var ds []time.Duration
		results := 0
		for range runs {
			t := time.Now()
			k, err := fn()
			if err != nil {
				fatalf("%s: %v", name, err)
			}
			ds = append(ds, time.Since(t))
			results += k
		}
		slices.Sort(ds)
		fmt.Printf("%-58s median %8v  p95 %8v  max %8v  (%.0f results on average)\n", name+":",
			ds[len(ds)/2].Round(10*time.Microsecond), ds[len(ds)*95/100].Round(10*time.Microsecond),
			ds[len(ds)-1].Round(10*time.Microsecond), float64(results)/float64(len(ds)))
	}
	page := func(f func() store.Filter) func() (int, error) {
		return func() (int, error) {
			res, err := s.Query(ctx, f(), store.Page{Limit: 50})
			return len(res.Events), err
		}
	}
	cnt := func(f func() store.Filter) func() (int, error) {
		return func() (int, error) {
			n, err := s.Count(ctx, f())
			return int(n), err
		}
	}
	actorActionDays := func() store.Filter {
		return store.Filter{Actors: []string{actor()}, Actions: []string{action()}, From: last28, To: now}
	}
	fmt.Println()
	measure("page: actor + action + last 28 days", page(actorActionDays))
	measure("page: actor (by name) + action + last 28 days", page(func() store.Filter {
		return store.Filter{Actors: []string{g.actors[r.IntN(len(g.actors))].Name}, Actions: []string{action()}, From: last28, To: now}
	}))
	measure("page: actor + last 28 days", page(func() store.Filter { return store.Filter{Actors: []string{actor()}, From: last28, To: now} }))
	measure("page: 3 actions + last 28 days", page(func() store.Filter {
		return store.Filter{Actions: []string{action(), action(), action()}, From: last28, To: now}
	}))
	measure("page: newest, no filter", page(func() store.Filter { return store.Filter{} }))
	measure("page: 10th page of actor, via cursors", func() (int, error) {
		f, p := store.Filter{Actors: []string{actor()}}, store.Page{Limit: 50}
		total := 0
		for range 10 {
			res, err := s.Query(ctx, f, p)
			if err != nil || res.Next == "" {
				return total, err
			}
			total += len(res.Events)
			p.Cursor = res.Next
		}
		return total, nil
	})
	fmt.Println()
	measure("count: actor + action + last 28 days", cnt(actorActionDays))
	measure("count: action + last 28 days", cnt(func() store.Filter { return store.Filter{Actions: []string{action()}, From: last28, To: now} }))
	measure("count: last 28 days", cnt(func() store.Filter { return store.Filter{From: last28, To: now} }))
	measure("count: everything", cnt(func() store.Filter { return store.Filter{} }))
	fmt.Println()
	measure("page: a target id", page(func() store.Filter { return store.Filter{Target: g.target(r)} }))
	measure("page: a target name + last 28 days", page(func() store.Filter {
		return store.Filter{Target: store.Target{Name: g.target(r).Name}, From: last28, To: now}
	}))
	measure("page: a target type and id + an action", page(func() store.Filter {
		t := g.target(r)
		return store.Filter{Target: store.Target{Type: t.Type, ID: t.ID}, Actions: []string{action()}}
	}))
	measure("count: a target id", cnt(func() store.Filter { return store.Filter{Target: g.target(r)} }))
	measure("count: a target name + last 28 days", cnt(func() store.Filter {
		return store.Filter{Target: store.Target{Name: g.target(r).Name}, From: last28, To: now}
	}))
	measure("page: an IP's /24", page(func() store.Filter { return store.Filter{IP: g.cidr(r)} }))
	measure("count: an IP's /24", cnt(func() store.Filter { return store.Filter{IP: g.cidr(r)} }))
	fmt.Println()
	measure("text: a target id (few matches), page", page(func() store.Filter {
		return store.Filter{Text: fmt.Sprintf("INV-%05d", r.IntN(g.targets))}
	}))
	measure("text: an actor name, page", page(func() store.Filter { return store.Filter{Text: g.actors[r.IntN(len(g.actors))].Name} }))
	measure("text: a common word (\"invoice\"), page", page(func() store.Filter { return store.Filter{Text: "invoice"} }))
	measure("text: two words + last 28 days, page", page(func() store.Filter {
		return store.Filter{Text: "refunded " + g.actors[r.IntN(len(g.actors))].Name, From: last28}
	}))
	measure("text: a target id, count", cnt(func() store.Filter { return store.Filter{Text: fmt.Sprintf("INV-%05d", r.IntN(g.targets))} }))
	measure("text: a common word (\"invoice\"), count", cnt(func() store.Filter { return store.Filter{Text: "invoice"} }))
	fmt.Println()
	measure("facets: actions, last 28 days", func() (int, error) {
		fs, err := s.Facets(ctx, store.Filter{From: last28}, store.FacetAction, 50)
		return len(fs), err
	})
	measure("facets: actors of an action, last 28 days", func() (int, error) {
		fs, err := s.Facets(ctx, store.Filter{Actions: []string{action()}, From: last28}, store.FacetActor, 20)
		return len(fs), err
	})
	// Ids to get: a sample from the whole span.
	var ids []string
	for d := range 90 {
		res, err := s.Query(ctx, store.Filter{From: now.Add(-time.Duration(d+1) * 24 * time.Hour)}, store.Page{Limit: 1})
		if err != nil {
			fatalf("%v", err)
		}
		for _, ev := range res.Events {
			ids = append(ids, ev.ID)
		}
	}
	measure("get by id", func() (int, error) {
		_, err := s.Get(ctx, ids[r.IntN(len(ids))])
		return 1, err
	})

	// Export: every event, encoded as native JSON to io.Discard, while the
	// heap is sampled.
	fmt.Println()
	exportAll(ctx, s, store.Filter{}, "export: everything")
	exportAll(ctx, s, store.Filter{Actions: g.actionNames()[:10], From: last28}, "export: 10 actions, last 28 days")
}

// atExit runs before fatalf exits: a PostgreSQL server the bench started
// must not outlive it.
var atExit []func()

func fatalf(format string, args ...any) {
	for _, f := range atExit {
		f()
	}
	log.Fatalf(format, args...)
}

func exportAll(ctx context.Context, s store.Store, f store.Filter, name string) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	jsonf, _ := format.Get("json")
	var line []byte
	w := io.Discard
	n := 0
	start := time.Now()
	var heapAt []uint64 // heap in use after each 10% of the events
	err := s.Each(ctx, f, func(ev *event.Event) error {
		line = append(jsonf.Append(line[:0], ev), '\n')
		n++
		if n%100000 == 0 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			heapAt = append(heapAt, m.HeapInuse>>20)
		}
		_, err := w.Write(line)
		return err
	})
	took := time.Since(start)
	close(stop)
	<-sampled
	if err != nil {
		fatalf("%s: %v", name, err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	fmt.Printf("%s: %d events in %v: %.0f events/s; heap in use before %d MiB, peak %d MiB, after %d MiB; every 100k events (MiB): %v; %d GCs\n",
		name, n, took.Round(time.Millisecond), float64(n)/took.Seconds(),
		before.HeapInuse>>20, peak.Load()>>20, after.HeapInuse>>20, heapAt, after.NumGC-before.NumGC)
}

// gen makes the events: deterministic for a given start.
type gen struct {
	end     time.Time
	span    time.Duration
	n       int
	actors  []event.Actor
	actions []action
	targets int
	r       *rand.Rand
}

type action struct{ name, area, verb, ttype string }

func newGen(end time.Time, n int) *gen {
	g := &gen{end: end.UTC(), span: 90 * 24 * time.Hour, n: n, targets: 20000, r: rand.New(rand.NewPCG(1, 1))}
	first := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}
	for i := range 500 {
		g.actors = append(g.actors, event.Actor{ID: fmt.Sprintf("u%04d", i), Name: fmt.Sprintf("%s.%03d", first[i%len(first)], i), Type: "user"})
	}
	areas := []struct{ area, ttype string }{{"billing", "invoice"}, {"users", "user"}, {"auth", "session"}, {"projects", "project"},
		{"settings", "setting"}, {"files", "file"}, {"teams", "team"}, {"api", "token"}, {"reports", "report"}, {"orders", "order"}}
	verbs := []string{"created", "updated", "deleted", "viewed", "refunded"}
	for _, a := range areas {
		for _, v := range verbs {
			g.actions = append(g.actions, action{name: a.ttype + "." + v, area: a.area, verb: v, ttype: a.ttype})
		}
	}
	return g
}

// target is a target of the events, at random: a filter for its id (with
// its type) and name.
func (g *gen) target(r *rand.Rand) store.Target {
	a := g.actions[r.IntN(len(g.actions))]
	tid := r.IntN(g.targets)
	t := store.Target{Type: a.ttype, ID: fmt.Sprintf("%s-%05d", a.ttype[:3], tid), Name: fmt.Sprintf("%s %d", a.ttype, tid)}
	if a.ttype == "invoice" {
		t.ID = fmt.Sprintf("INV-%05d", tid)
	}
	return t
}

// cidr is the /24 of an IPv4 address of the events, at random.
func (g *gen) cidr(r *rand.Rand) *netip.Prefix {
	p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(r.IntN(16)), byte(r.IntN(256)), 0}), 24)
	return &p
}

func (g *gen) actionNames() []string {
	var out []string
	for _, a := range g.actions {
		out = append(out, a.name)
	}
	return out
}

// id is event i's id: UUIDv7-like, time-ordered like the ones auditproxy
// makes.
func (g *gen) id(i int) string {
	ms := g.time(i).UnixMilli()
	return fmt.Sprintf("%08x-%04x-7%03x-8%03x-%012x", ms>>16, ms&0xffff, i>>24&0xfff, i>>12&0xfff, i&0xfff)
}

func (g *gen) time(i int) time.Time {
	return g.end.Add(-g.span + time.Duration(float64(g.span)*float64(i)/float64(g.n)))
}

var countries = []string{"GB", "FR", "DE", "US", "CA", "NL", "ES", "IT", "SE", "PL", "BR", "IN", "JP", "AU", "IE", "BE", "CH", "AT", "DK", "NO"}

func (g *gen) event(i int) event.Event {
	r := g.r
	// A few actors do most of the work, as in real trails.
	ai := int(float64(len(g.actors)) * r.Float64() * r.Float64())
	actor := g.actors[ai]
	a := g.actions[r.IntN(len(g.actions))]
	tid := r.IntN(g.targets)
	target := event.Target{Type: a.ttype, ID: fmt.Sprintf("%s-%05d", "INV", tid), Name: fmt.Sprintf("%s %d", a.ttype, tid)}
	if a.ttype != "invoice" {
		target.ID = fmt.Sprintf("%s-%05d", a.ttype[:3], tid)
	}
	outcome := event.OutcomeSuccess
	if r.IntN(20) == 0 {
		outcome = event.OutcomeFailure
	}
	ip := fmt.Sprintf("10.%d.%d.%d", ai%16, r.IntN(256), r.IntN(256))
	if ai%10 == 0 {
		ip = fmt.Sprintf("2001:db8:%x::%x", ai, r.IntN(65536))
	}
	return event.Event{
		ID:          g.id(i),
		Time:        g.time(i),
		Action:      a.name,
		Description: fmt.Sprintf("%s %s %s", actor.Name, a.verb, target.Name),
		Area:        a.area,
		Severity:    event.SeverityInfo,
		Outcome:     outcome,
		Actor:       actor,
		Target:      target,
		Changes:     event.Changes{{Field: "status", From: []byte(`"draft"`), To: []byte(`"sent"`)}},
		Source:      event.Source{IP: ip, Country: countries[ai%len(countries)], UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"},
		HTTP:        event.HTTP{Method: "POST", Host: "app.example.com", Path: "/api/" + a.ttype + "s/" + target.ID, Status: 200, DurationMS: 12.5, RequestID: fmt.Sprintf("req-%x", i)},
		Rule:        a.name,
		App:         "demo",
	}
}
