package rules

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/exchangefile"
)

// readExchange builds an Exchange from a recorded request and response, each
// as sent on the wire, with the reader explain uses (package exchangefile).
// A response of the single line "upstream-error: REASON" stands for an
// upstream that never answered.
func readExchange(request, response string) (*event.Exchange, error) {
	text := strings.TrimRight(strings.TrimLeft(request, "\n"), "\n") + "\n\n" + strings.TrimLeft(response, "\n")
	xs, err := exchangefile.ReadText("golden", []byte(text))
	if err != nil {
		return nil, err
	}
	if len(xs) != 1 {
		return nil, fmt.Errorf("want one exchange, read %d", len(xs))
	}
	x := xs[0]
	x.Start = time.Date(2026, 11, 21, 23, 42, 15, 123456000, time.UTC)
	return x, nil
}

func capture(body string) event.Body {
	return event.Body{Captured: true, Data: []byte(body), Size: int64(len(body))}
}

// sections splits a golden file into its "--- name" sections.
func sections(data []byte) map[string]string {
	out := map[string]string{}
	var name string
	var cur bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if n, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "--- "); ok {
			if name != "" {
				out[name] = cur.String()
			}
			name = n
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	if name != "" {
		out[name] = cur.String()
	}
	return out
}
