package api

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWidgetLink(t *testing.T) {
	h := newHarness(t, nil)
	link := h.api.WidgetLink("alice", time.Hour)
	u, err := url.Parse(link)
	if err != nil || u.Path != "/ui/widget" || u.IsAbs() {
		t.Fatalf("link %q", link)
	}
	q := u.Query()
	if q.Get("actor") != "alice" || q.Get("exp") != strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10) || q.Get("sig") == "" {
		t.Fatalf("link %q", link)
	}
	widget := func(query url.Values) error {
		_, _, err := h.api.WidgetEvents(httptest.NewRequest("GET", "/ui/widget?"+query.Encode(), nil), 10)
		return err
	}
	with := func(k, v string) url.Values {
		c := url.Values{}
		for key, vs := range q {
			c[key] = append([]string(nil), vs...)
		}
		if v == "" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}

	actor, evs, err := h.api.WidgetEvents(httptest.NewRequest("GET", link, nil), 10)
	if err != nil || actor != "alice" || strings.Join(idsOf(evs), ",") != "ev-1,ev-3,ev-6" {
		t.Fatalf("valid link: %q %v %v", actor, idsOf(evs), err)
	}
	recs := h.records()
	if len(recs) != 1 || recs[0].Action != ActionViewed || strings.Contains(recs[0].HTTP.Query, "sig") ||
		recs[0].Description != "a signed widget link showed 3 events of alice" {
		t.Errorf("recorded %+v", recs)
	}

	sig := q.Get("sig")
	flipped := []byte(sig)
	flipped[3] ^= 1
	for name, query := range map[string]url.Values{
		"other actor":      with("actor", "bob"),
		"later exp":        with("exp", strconv.FormatInt(testNow.Add(48*time.Hour).Unix(), 10)),
		"tampered sig":     with("sig", string(flipped)),
		"truncated sig":    with("sig", sig[:len(sig)-2]),
		"sig not base64":   with("sig", "!!!"),
		"no sig":           with("sig", ""),
		"no actor":         with("actor", ""),
		"no exp":           with("exp", ""),
		"exp not a number": with("exp", "soon"),
		"extra parameter":  with("limit", "1000"),
		"two actors":       {"actor": {"alice", "bob"}, "exp": q["exp"], "sig": q["sig"]},
	} {
		if err := widget(query); !errors.Is(err, ErrWidgetLink) {
			t.Errorf("%s: %v, want ErrWidgetLink", name, err)
		}
	}

	// Expiry: valid up to the second before exp.
	h.api.now = func() time.Time { return testNow.Add(time.Hour - time.Second) }
	if err := widget(q); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	h.api.now = func() time.Time { return testNow.Add(time.Hour) }
	if err := widget(q); !errors.Is(err, ErrWidgetLink) {
		t.Errorf("at expiry: %v, want ErrWidgetLink", err)
	}

	// Another key refuses the link; no key means no widget.
	other := newHarness(t, func(c *Config) { c.WidgetKey = []byte("another key") })
	if _, _, err := other.api.WidgetEvents(httptest.NewRequest("GET", link, nil), 10); !errors.Is(err, ErrWidgetLink) {
		t.Errorf("other key: %v", err)
	}
	off := newHarness(t, func(c *Config) { c.WidgetKey = nil })
	if l := off.api.WidgetLink("alice", time.Hour); l != "" {
		t.Errorf("widget off: link %q", l)
	}
	if _, _, err := off.api.WidgetEvents(httptest.NewRequest("GET", link, nil), 10); !errors.Is(err, ErrWidgetLink) {
		t.Errorf("widget off: %v", err)
	}
	if h.api.WidgetLink("", time.Hour) != "" {
		t.Errorf("link for no actor")
	}
}
