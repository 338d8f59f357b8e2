package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/auditproxy/auditproxy/enrich"
	"github.com/auditproxy/auditproxy/exchangefile"
	"github.com/auditproxy/auditproxy/output"
	"github.com/auditproxy/auditproxy/rules"
)

// cmdExplain runs recorded exchanges through a rules file and says, rule by
// rule, why each matched or not, what it extracted, and which events would
// go out. It is for rule authors, so its output is for people: plain text
// on stdout, with each event as the real output would write it.
func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditproxy explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: auditproxy explain [--rules FILE] EXCHANGE_FILE...\n\nExchange files are HAR exports or the text format of package exchangefile.")
		fs.PrintDefaults()
	}
	rulesFile := fs.String("rules", "rules.yaml", "rules file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	set, ok := loadRules(*rulesFile, stderr)
	if !ok {
		return 1
	}
	// Every file is read before anything is printed: a mistake in one
	// gives a message, not half an explanation.
	files := make([][]exchangefile.Entry, fs.NArg())
	for i, name := range fs.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "auditproxy explain: reading exchanges: %v\n", err)
			return 1
		}
		if files[i], err = exchangefile.ReadEntries(name, data); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	// No trusted proxies and no GeoIP: a recorded exchange's client is
	// 127.0.0.1 anyway.
	enr, err := enrich.New(enrich.Config{})
	if err != nil {
		fmt.Fprintf(stderr, "auditproxy explain: %v\n", err)
		return 1
	}
	defer enr.Close()
	var b strings.Builder
	for _, entries := range files {
		for i, e := range entries {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			explain(&b, set, enr, i+1, e)
		}
	}
	io.WriteString(stdout, b.String())
	return 0
}

// explain writes what set makes of one exchange.
func explain(b *strings.Builder, set *rules.Set, enr *enrich.Enricher, n int, e exchangefile.Entry) {
	x := e.Exchange
	target := x.Path
	if x.RawQuery != "" {
		target += "?" + x.RawQuery
	}
	fmt.Fprintf(b, "exchange %d: %s %s -> %d", n, x.Method, target, x.Status)
	if x.UpstreamError != "" {
		fmt.Fprintf(b, ", upstream %s", x.UpstreamError)
	}
	fmt.Fprintf(b, " (%s)\n", e.Pos)

	// As in the pipeline: rules read client.ip, so it is resolved first.
	x.ClientIP = enr.ClientIP(x)
	traces, evs := set.Explain(x)
	// Explain only says what the rules' bind and unbind would learn; Build
	// learns it, so that later exchanges resolve identities earlier ones
	// taught, as behind the proxy. The set's bindings are its own, in
	// memory, gone when explain exits.
	set.Build(x)
	emitted := 0
	var stopper string // the rule whose match ended emitting, "" while none has
	for _, t := range traces {
		r := t.Rule
		where := fmt.Sprintf("%s (%s:%d:%d)", r.Name, set.File, r.Line, r.Col)
		switch {
		case !t.Matched:
			fmt.Fprintf(b, "  no match  %s: %s\n", where, strings.Join(t.Why, "; "))
		case !t.Emitted:
			fmt.Fprintf(b, "  match     %s, no event: %s matched first and has no continue: true\n", where, stopper)
		default:
			fmt.Fprintf(b, "  match     %s\n", where)
			writeValues(b, t.Values)
			// Explain returns one event per emitting trace, in order.
			if emitted < len(evs) {
				for _, w := range evs[emitted].Warnings {
					fmt.Fprintf(b, "      warning: %s\n", w)
				}
			}
			emitted++
			if !r.Continue {
				stopper = r.Name
			}
		}
	}
	if len(evs) == 0 {
		b.WriteString("  no event: no rule matches\n")
	}
	for i := range evs {
		enr.Enrich(&evs[i], x)
		b.WriteString("  event: ")
		b.Write(output.AppendJSON(nil, &evs[i]))
	}
}

// writeValues lists what a rule extracted, one value a line, aligned:
//
//	actor.id   = "42"       from jwt.sub
//	actor.name = (missing)  from jwt.name
func writeValues(b *strings.Builder, values []rules.TraceValue) {
	const maxPad = 40 // past this, aligning the sources costs more than it helps
	texts := make([]string, len(values))
	fieldWidth, textWidth := 0, 0
	for i, v := range values {
		switch {
		case v.Missing:
			texts[i] = "(missing)"
		case strings.HasPrefix(v.Field, "changes."):
			texts[i] = v.Value // already JSON, typed as in the event
		default:
			texts[i] = strconv.Quote(v.Value)
		}
		fieldWidth = max(fieldWidth, utf8.RuneCountInString(v.Field))
		if n := utf8.RuneCountInString(texts[i]); n <= maxPad {
			textWidth = max(textWidth, n)
		}
	}
	for i, v := range values {
		fmt.Fprintf(b, "      %-*s = %-*s  from %s\n", fieldWidth, v.Field, textWidth, texts[i], v.Source)
	}
}
