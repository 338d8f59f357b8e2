//go:build linux

package chaos

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestChaosFaults: short scenarios, each breaking one thing on purpose.
func TestChaosFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"buffer full, drop_oldest: the loss is counted in the trail", bufferFull},
		{"disk write error, critical: 503, never a 201 without its event", writeErrorCritical},
		{"disk write error, normal: the loss is reported", writeErrorNormal},
		{"buffer directory unusable: refuses to start", bufferUnusable},
		{"collector answers 400: the events are dead-lettered with the reason", rejected},
	} {
		t.Run(tc.name, tc.run)
	}
}

// sendAll sends requests from..to one at a time and returns those that got
// 201. Any other outcome than want fails the test.
func (e *env) sendAll(from, to int64, want int) map[string]string {
	e.t.Helper()
	completed := map[string]string{}
	for n := from; n <= to; n++ {
		status, err := e.post(e.client, n)
		if err != nil || status != want {
			e.t.Fatalf("request %d: status %d, error %v; want %d", n, status, err, want)
		}
		if status == http.StatusCreated {
			completed[requestID(n)] = itemID(n)
		}
	}
	return completed
}

// bufferFull: a 64 KiB buffer, the collector down. Requests go in until the
// first drop, then stop, so that nothing pushes out the audit.events_lost
// event that reports it (which would take the count with it). Once the
// collector is back, that event arrives with exactly the number dropped.
func bufferFull(t *testing.T) {
	e := newEnv(t, options{rules: "rules-normal.yaml", maxBytes: "64KiB", whenFull: "drop_oldest", admin: true})
	p := e.start() // the collector is not started yet
	completed := map[string]string{}
	var dropped float64
	for n := int64(1); dropped == 0; n++ {
		if n > 2000 {
			t.Fatalf("no drop after %d requests into a 64 KiB buffer", n-1)
		}
		maps.Copy(completed, e.sendAll(n, n, http.StatusCreated))
		// Each event is written after its response: wait until it is in
		// the buffer or dropped before deciding to send another.
		m := e.waitMetrics("the event in the buffer", 5*time.Second, func(m map[string]float64) bool {
			return m["auditproxy_output_queue_depth"]+m["auditproxy_output_dropped_total"] >= float64(n)
		})
		dropped = m["auditproxy_output_dropped_total"]
	}
	sent := float64(len(completed))
	e.logf("%v requests filled the buffer; %v events dropped", sent, dropped)
	// The pipeline writes the loss into the trail within a second.
	e.waitMetrics("the audit.events_lost event in the buffer", 5*time.Second, func(m map[string]float64) bool {
		return m["auditproxy_output_queue_depth"] == sent-dropped+1
	})
	if err := e.col.start(); err != nil {
		t.Fatal(err)
	}
	m := e.waitMetrics("the buffer to drain", 15*time.Second, func(m map[string]float64) bool {
		return m["auditproxy_output_queue_depth"] == 0
	})
	if m["auditproxy_output_dropped_total"] != dropped {
		t.Errorf("%v events dropped after the collector came back, want none more", m["auditproxy_output_dropped_total"]-dropped)
	}
	if err := p.terminate(20 * time.Second); err != nil {
		t.Errorf("graceful shutdown: %v", err)
	}

	tl := e.tally(completed)
	e.logf("%v", tl)
	tl.checkSane(t)
	if float64(len(tl.missing)) != dropped {
		t.Errorf("%d completed requests have no event, but %v were reported dropped", len(tl.missing), dropped)
	}
	reported := 0
	for _, ev := range tl.losses {
		l, err := parseLoss(ev)
		if err != nil {
			t.Error(err)
			continue
		}
		e.logf("audit.events_lost: %s", ev.Description)
		if l.output != output || !strings.Contains(l.reason, "drop_oldest") {
			t.Errorf("audit.events_lost for output %q, reason %q; want %q and drop_oldest", l.output, l.reason, output)
		}
		reported += l.count
	}
	if float64(reported) != dropped {
		t.Errorf("the trail reports %d events lost, want %v (the dropped count)", reported, dropped)
	}
}

// limitFileSize sets the process's RLIMIT_FSIZE: with 0, every write that
// would grow a file fails (EFBIG), as on a full disk. Unlike a read-only
// directory, it also holds for root, and for files already open.
func limitFileSize(t *testing.T, p *process, limit uint64) {
	t.Helper()
	rl := unix.Rlimit{Cur: limit, Max: unix.RLIM_INFINITY}
	if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_FSIZE, &rl, nil); err != nil {
		t.Fatalf("prlimit RLIMIT_FSIZE: %v", err)
	}
}

// writeErrorCritical: while the disk buffer cannot be written, critical
// requests fail closed (503, the app's answer withheld); once it can, they
// complete again, without a restart, and no completed one lacks its event.
func writeErrorCritical(t *testing.T) {
	e := newEnv(t, options{rules: "rules-critical.yaml"})
	if err := e.col.start(); err != nil {
		t.Fatal(err)
	}
	p := e.start()
	completed := e.sendAll(1, 10, http.StatusCreated)
	limitFileSize(t, p, 0)
	e.sendAll(11, 20, http.StatusServiceUnavailable)
	limitFileSize(t, p, unix.RLIM_INFINITY)
	maps.Copy(completed, e.sendAll(21, 30, http.StatusCreated))
	e.waitAccounted(completed, 15*time.Second)
	if err := p.terminate(20 * time.Second); err != nil {
		t.Errorf("graceful shutdown: %v", err)
	}

	tl := e.tally(completed)
	e.logf("%v", tl)
	tl.checkMissing(t)
	tl.checkSane(t)
	if len(p.logLines("disk buffer write failed")) == 0 {
		t.Error("the proxy did not log the disk buffer's write error")
	}
	// Refused requests lost nothing: their clients were told.
	for _, ev := range tl.losses {
		t.Errorf("unexpected audit.events_lost: %s", ev.Description)
	}
	if tl.unasked > 0 {
		t.Errorf("%d events of refused requests reached the collector", tl.unasked)
	}
}

// writeErrorNormal: the default delivery has already answered 201 when
// the write fails, so those events are lost; the trail must say so once the
// disk works again. The outage lasts a few seconds, so that the
// audit.events_lost events written meanwhile fail too.
func writeErrorNormal(t *testing.T) {
	e := newEnv(t, options{rules: "rules-normal.yaml", admin: true})
	if err := e.col.start(); err != nil {
		t.Fatal(err)
	}
	p := e.start()
	before := e.sendAll(1, 10, http.StatusCreated)
	e.waitAccounted(before, 10*time.Second)
	limitFileSize(t, p, 0)
	during := e.sendAll(11, 20, http.StatusCreated)
	e.waitMetrics("the failed writes counted", 5*time.Second, func(m map[string]float64) bool {
		return m["auditproxy_output_dropped_total"] >= float64(len(during))
	})
	time.Sleep(2500 * time.Millisecond)
	limitFileSize(t, p, unix.RLIM_INFINITY)
	after := e.sendAll(21, 30, http.StatusCreated)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.col.lossEvents()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	e.waitAccounted(after, 10*time.Second)
	if err := p.terminate(20 * time.Second); err != nil {
		t.Errorf("graceful shutdown: %v", err)
	}

	all := maps.Clone(before)
	maps.Copy(all, during)
	maps.Copy(all, after)
	tl := e.tally(all)
	e.logf("%v", tl)
	tl.checkSane(t)
	for _, id := range tl.missing {
		if _, ok := during[id]; !ok {
			t.Errorf("request %s, sent while the disk worked, has no event", id)
		}
	}
	if len(tl.losses) == 0 {
		t.Fatalf("%d events were lost to the write error and no audit.events_lost reached the collector", len(tl.missing))
	}
	reported := 0
	for _, ev := range tl.losses {
		l, err := parseLoss(ev)
		if err != nil {
			t.Error(err)
			continue
		}
		e.logf("audit.events_lost: %s", ev.Description)
		reported += l.count
	}
	// The trail should count every lost event. Today an audit.events_lost
	// event that cannot be written is reported in its turn as one lost
	// event, and the count it carried is gone; and each failed write is
	// reported twice (by the queue and by the pipeline). So the count is
	// shown, not judged.
	if reported < len(tl.missing) {
		e.logf("UNDER-REPORTED: %d request events lost, the trail counts %d lost events", len(tl.missing), reported)
	} else {
		e.logf("%d request events lost; the trail counts %d lost events", len(tl.missing), reported)
	}
}

// bufferUnusable: a disk buffer that cannot be opened (its directory's
// parent is a file, which fails for root too) stops the proxy at start,
// with a message naming the problem, rather than running without it.
func bufferUnusable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, options{rules: "rules-critical.yaml", bufferDir: filepath.Join(file, "buffer")})
	p, err := e.spawn()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("auditproxy still running 15s after start with an unusable buffer directory")
	}
	if p.err == nil {
		t.Errorf("auditproxy exited 0 with an unusable buffer directory:\n%s", p.logs)
	}
	if logs := p.logs.String(); !strings.Contains(logs, "opening disk buffer") || !strings.Contains(logs, "not a directory") {
		t.Errorf("the message does not say the disk buffer could not be opened, and why:\n%s", logs)
	}
}

// rejected: the collector refuses with 400 every batch holding the event of
// item 13. That event ends in the dead-letter file with the collector's
// reason; the others arrive (or share its batch's fate).
func rejected(t *testing.T) {
	e := newEnv(t, options{rules: "rules-critical.yaml", rejectSuffix: "13", admin: true})
	if err := e.col.start(); err != nil {
		t.Fatal(err)
	}
	p := e.start()
	completed := e.sendAll(1, 40, http.StatusCreated)
	e.waitAccounted(completed, 15*time.Second)
	dead, _, err := e.deadLetters()
	if err != nil {
		t.Fatal(err)
	}
	e.waitMetrics("dead_lettered_total to count the dead-letter file", 5*time.Second, func(m map[string]float64) bool {
		return m["auditproxy_output_dead_lettered_total"] == float64(len(dead))
	})
	if err := p.terminate(20 * time.Second); err != nil {
		t.Errorf("graceful shutdown: %v", err)
	}

	tl := e.tally(completed)
	e.logf("%v", tl)
	tl.checkMissing(t)
	tl.checkSane(t)
	tl.checkPoison(t)
	if len(tl.poison) != 1 {
		t.Errorf("poison requests %v, want only item 13's", tl.poison)
	}
	for _, ev := range tl.losses {
		t.Errorf("unexpected audit.events_lost: %s", ev.Description)
	}
}
