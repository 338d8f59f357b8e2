package ui

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/auditproxy/auditproxy/event"
)

// chromiumPath is the browser the test drives: Debian's chromium package.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir keeps the screenshots for people to look at; git ignores it.
const screenshotDir = "testdata/out"

// TestBrowser drives the viewer in a real headless Chromium: sign in, see
// the rows, filter by action, watch a live event arrive, open a detail,
// export CSV, and look at it on a phone and in the widget. Screenshots land
// in testdata/out.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found: apt-get install chromium")
		}
		t.Skip("chromium not found: apt-get install chromium")
	}
	ts := newTestServer(t, nil)
	demo := demoEvents(ts.now)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
		// The rows show local time: pin the zone so screenshots are alike.
		chromedp.Env("TZ=Europe/London"),
	)...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	// Every console error or uncaught exception (a CSP violation too) fails the test.
	var consoleMu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				consoleMu.Lock()
				problems = append(problems, m.String()+" ("+m.URL+")")
				consoleMu.Unlock()
			}
		}
	}()

	downloads := t.TempDir()
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	poll := func(name, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("%s: waiting for %s: %v", name, js, err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluating %s: %v", js, err)
		}
		return v
	}
	// shoot saves a PNG of the viewport, or of the whole page when full.
	shoot := func(name string, full bool) {
		t.Helper()
		shot := chromedp.CaptureScreenshot()
		if full {
			shot = chromedp.FullScreenshot(100) // quality 100 is PNG
		}
		png, err := chromedp.Run(ctx, shot)
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
			t.Fatal(err)
		}
		path, _ := filepath.Abs(filepath.Join(screenshotDir, name))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	rowCount := `document.querySelectorAll('#rows tr').length`

	// Sign in.
	step("open the viewer",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	if loc := eval(`location.pathname`); loc != "/ui/" {
		t.Errorf("/ went to %s, want /ui/", loc)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
	}); err != nil {
		t.Fatal(err)
	}
	step("sign in",
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rows tr`)),
	)
	inWeek := 0
	for _, ev := range demo {
		if ev.Time.After(ts.now.AddDate(0, 0, -6).Truncate(24 * time.Hour)) {
			inWeek++
		}
	}
	if inWeek <= 50 {
		t.Fatalf("only %d demo events in the last week: paging is not tested", inWeek)
	}
	poll("the first page", fmt.Sprintf(`%s === 50 && document.querySelector('#count').textContent === '%d'`, rowCount, inWeek))
	poll("the live stream", `document.querySelector('#live-state').dataset.mode === 'on'`)
	poll("the facet menus", `document.querySelectorAll('.multi[data-field=action] input').length >= 9`)
	// One look is one auditlog.viewed: the page, its count, four facet
	// menus and the live stream of the same filter are one view.
	viewed := func() int {
		time.Sleep(200 * time.Millisecond) // a late record would show
		ts.mu.Lock()
		defer ts.mu.Unlock()
		n := 0
		for _, ev := range ts.recorded {
			if ev.Action == "auditlog.viewed" {
				n++
			}
		}
		return n
	}
	if n := viewed(); n != 1 {
		t.Errorf("loading the viewer recorded %d auditlog.viewed, want 1", n)
	}
	if got := eval(`document.querySelector('#rows tr .badge').textContent + ' | ' + document.querySelector('#rows tr time').title`); !strings.HasPrefix(got, "user.login | ") || !strings.HasSuffix(got, " UTC") {
		t.Errorf("first row: %q, want the newest event with its UTC time in the tooltip", got)
	}
	if sess := eval(`sessionStorage.getItem('auditproxy.token') + ' ' + location.search`); sess != adminToken+" " {
		t.Errorf("token in sessionStorage and URL: %q", sess)
	}
	shoot("viewer.png", false)

	// Load more: the rest of the week arrives through the cursor.
	step("load more", chromedp.Click(chromedp.ID("more")))
	poll("the second page", fmt.Sprintf(`%s === %d && document.querySelector('#more').hidden`, rowCount, inWeek))
	if reqs := ts.log.find("/api/v1/events", "limit=50"); len(reqs) != 2 || !strings.Contains(reqs[1].query, "cursor=") {
		t.Errorf("paging requests %+v", reqs)
	}

	// Filter by action: only user.deleted rows remain.
	deleted := 0
	for _, ev := range demo {
		if ev.Action == "user.deleted" && ev.Time.After(ts.now.AddDate(0, 0, -7)) {
			deleted++
		}
	}
	step("open the actions menu", chromedp.Click(chromedp.CSS(`.multi[data-field=action] .menu-button`)))
	shoot("filter-menu.png", false)
	step("pick user.deleted", chromedp.Click(chromedp.CSS(`.multi[data-field=action] input[value="user.deleted"]`)))
	poll("only user.deleted rows", fmt.Sprintf(`(() => { const b = [...document.querySelectorAll('#rows tr .badge')];
		return b.length === %d && b.every((x) => x.textContent === 'user.deleted'); })()`, deleted))
	if reqs := ts.log.find("/api/v1/events", "action=user.deleted", "preset=last7d"); len(reqs) == 0 || !reqs[0].auth {
		t.Errorf("no authorised list request with action=user.deleted: %+v", ts.log.find("/api/v1/events"))
	}
	waitFor(t, func() bool { return len(ts.log.find("/api/v1/events/stream", "action=user.deleted")) > 0 })
	// The first page, the load-more page, and this filter's page.
	if n := viewed(); n != 3 {
		t.Errorf("after paging and one filter: %d auditlog.viewed, want 3", n)
	}

	// A live event that matches appears on top; one that does not, does not.
	waitFor(t, func() bool { return len(ts.log.find("/api/v1/events/stream", "action=user.deleted")) > 0 })
	poll("the filtered live stream", `document.querySelector('#live-state').dataset.mode === 'on'`)
	live := demo[8]
	live.ID, live.Time, live.Description = "evt-live", time.Now().UTC(), "carol deleted user trudy@example.com"
	other := demo[0]
	other.ID, other.Time = "evt-other", time.Now().UTC()
	ts.hub.publish(other, live)
	poll("the live row on top", `document.querySelector('#rows tr').dataset.id === 'evt-live'`)
	if eval(`String(!!document.querySelector('#rows tr[data-id="evt-other"]'))`) != "false" {
		t.Errorf("a live event outside the filter was shown")
	}
	// Paused, live events wait behind a "new" button.
	step("pause", chromedp.Click(chromedp.ID("pause")))
	held := live
	held.ID, held.Time = "evt-held", time.Now().UTC()
	ts.hub.publish(held)
	poll("the pending button", `!document.querySelector('#pending').hidden`)
	if eval(`String(!!document.querySelector('#rows tr[data-id="evt-held"]'))`) != "false" {
		t.Errorf("a live event was shown while paused")
	}
	step("resume", chromedp.Click(chromedp.ID("pending")))
	poll("the held row on top", `document.querySelector('#rows tr').dataset.id === 'evt-held'`)

	// Several actors and several countries: any of each, both at once.
	step("clear for actors", chromedp.Click(chromedp.ID("clear")))
	poll("all rows back", rowCount+` === 50`)
	step("pick actors alice and carol", chromedp.Click(chromedp.CSS(`.multi[data-field=actor] .menu-button`)),
		chromedp.Click(chromedp.CSS(`.multi[data-field=actor] input[value="42"]`)),
		chromedp.Click(chromedp.CSS(`.multi[data-field=actor] input[value="44"]`)))
	poll("alice's and carol's rows", `document.querySelector('#loading').hidden && (() => {
		const names = new Set([...document.querySelectorAll('#rows tr td.col-actor .strong')].map((s) => s.textContent));
		return names.size === 2 && names.has('alice') && names.has('carol'); })()`)
	if got := eval(`document.querySelector('.multi[data-field=actor] .chip').textContent + ' ' + document.querySelector('.multi[data-field=actor] .label').textContent`); got != "2 alice" {
		t.Errorf("actor menu: %q, want the count of picked and names beside ids", got)
	}
	step("pick countries GB and US", chromedp.KeyEvent(kb.Escape), chromedp.Click(chromedp.CSS(`.multi[data-field=country] .menu-button`)),
		chromedp.Click(chromedp.CSS(`.multi[data-field=country] input[value="GB"]`)),
		chromedp.Click(chromedp.CSS(`.multi[data-field=country] input[value="US"]`)))
	poll("only alice's rows (carol is in DE)", `document.querySelector('#loading').hidden && document.querySelectorAll('#rows tr').length > 0 &&
		[...document.querySelectorAll('#rows tr td.col-actor .strong')].every((s) => s.textContent === 'alice')`)
	if reqs := ts.log.find("/api/v1/events", "actor=42", "actor=44", "country=GB", "country=US"); len(reqs) == 0 {
		t.Errorf("no list request with both actors and both countries: %+v", ts.log.find("/api/v1/events"))
	}
	step("close the menu", chromedp.KeyEvent(kb.Escape))

	// Open a detail: the changes read "field: from → to".
	step("clear the filters", chromedp.Click(chromedp.ID("clear")))
	poll("all rows back", rowCount+` === 50`)
	step("open evt-02",
		chromedp.Click(chromedp.CSS(`#rows tr[data-id="evt-02"]`)),
		chromedp.WaitVisible(chromedp.ID("detail")),
	)
	changes := eval(`document.querySelector('#detail .changes').textContent`)
	if !strings.Contains(changes, "role: viewer → editor") || !strings.Contains(changes, `teams: ["support"] → ["support","billing"]`) {
		t.Errorf("changes read %q", changes)
	}
	if all := eval(`document.querySelector('#detail .fields').textContent`); !strings.Contains(all, "source.user_agent") || !strings.Contains(all, "http.path/users/43") {
		t.Errorf("all fields: %q", all)
	}
	shoot("detail.png", false)
	step("close the detail",
		chromedp.Click(chromedp.ID("detail-close")),
		chromedp.WaitNotVisible(chromedp.ID("detail")),
	)

	// Export CSV with the current filters: the file arrives, the token went
	// in the header, never in the URL.
	step("pick area users", chromedp.Click(chromedp.CSS(`.multi[data-field=area] .menu-button`)),
		chromedp.Click(chromedp.CSS(`.multi[data-field=area] input[value="users"]`)))
	poll("users rows", `document.querySelector('#loading').hidden && document.querySelectorAll('#rows tr').length > 0 &&
		[...document.querySelectorAll('#rows tr .badge')].every((b) => b.textContent.startsWith('user.'))`)
	want := eval(`document.querySelector('#count').textContent`)
	step("export csv", chromedp.KeyEvent(kb.Escape), chromedp.Click(chromedp.CSS(`.export button[data-format=csv]`)))
	var file string
	waitFor(t, func() bool {
		matches, _ := filepath.Glob(filepath.Join(downloads, "auditlog-*.csv"))
		if len(matches) == 1 {
			file = matches[0]
		}
		return file != ""
	})
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) == 0 || strings.Join(rows[0], ",") != "time,id,actor_id,actor_name,action,description,target_type,target_id,target_name,outcome,country,ip,user_agent,rule" {
		t.Fatalf("downloaded %s: %v %v", file, err, rows)
	}
	if fmt.Sprint(len(rows)-1) != want {
		t.Errorf("CSV has %d events, the page counted %s", len(rows)-1, want)
	}
	exports := ts.log.find("/api/v1/export", "format=csv", "area=users", "preset=last7d")
	if len(exports) != 1 || !exports[0].auth || strings.Contains(exports[0].query, adminToken) {
		t.Errorf("export requests %+v", exports)
	}
	ts.mu.Lock()
	var exported []event.Event
	for _, ev := range ts.recorded {
		if ev.Action == "auditlog.exported" {
			exported = append(exported, ev)
		}
	}
	ts.mu.Unlock()
	if len(exported) != 1 || !strings.Contains(exported[0].Description, "admin exported "+want+" events as csv") {
		t.Errorf("recorded exports %+v", exported)
	}

	// Loading the page again is one more view, not seven.
	before := viewed()
	step("reload the page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#rows tr`)))
	poll("the live stream after reloading", `document.querySelector('#live-state').dataset.mode === 'on'`)
	poll("the facet menus after reloading", `document.querySelectorAll('.multi[data-field=country] input').length >= 4`)
	if n := viewed() - before; n != 1 {
		t.Errorf("reloading the page recorded %d auditlog.viewed, want 1", n)
	}

	// The column chooser hides a column, and remembers it.
	step("hide the IP column", chromedp.Click(chromedp.CSS(`#columns .menu-button`)),
		chromedp.Click(chromedp.CSS(`#columns input[value=ip]`)))
	if got := eval(`[...document.querySelectorAll('#events th')].map((th) => th.textContent).join('|') + ' ' + localStorage.getItem('auditproxy.columns')`); strings.Contains(got, "|IP|") || !strings.Contains(got, `"actor"`) {
		t.Errorf("columns after hiding IP: %s", got)
	}
	step("show the IP column again", chromedp.Click(chromedp.CSS(`#columns input[value=ip]`)),
		chromedp.Click(chromedp.CSS(`.brand span`)))

	// On a phone, rows become cards.
	step("phone", chromedp.EmulateViewport(390, 844), chromedp.Click(chromedp.ID("clear")))
	poll("rows on a phone", rowCount+` === 50`)
	if display := eval(`getComputedStyle(document.querySelector('#events thead')).display`); display != "none" {
		t.Errorf("on a phone the table head shows (display %s)", display)
	}
	if overflow := eval(`String(document.documentElement.scrollWidth > window.innerWidth + 1)`); overflow != "false" {
		t.Errorf("the page scrolls sideways on a phone")
	}
	shoot("phone.png", false)

	// The widget, as the app's admin page would frame it.
	step("widget", chromedp.EmulateViewport(420, 560), chromedp.Navigate(ts.URL+ts.api.WidgetLink("alice", time.Hour)),
		chromedp.WaitVisible(chromedp.CSS(`.events li`)))
	if n := eval(`String(document.querySelectorAll('.events li').length)`); n == "0" {
		t.Errorf("widget shows no events")
	}
	shoot("widget.png", false)

	consoleMu.Lock()
	defer consoleMu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}
