package api

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// ErrWidgetLink is why a widget link is refused: a bad or missing
// signature, an expired link, or the widget turned off. The reasons are not
// told apart, to give a forger nothing to go by.
var ErrWidgetLink = errors.New("widget link invalid or expired")

// WidgetLink returns a signed link to the widget that shows actor's recent
// events until ttl from now: "/ui/widget?actor=…&exp=…&sig=…", relative to
// the admin listener. It is the one URL that carries a secret-derived value
// (an HMAC that grants just this view, just until exp). "" when the widget
// is off (no Config.WidgetKey) or actor is empty.
func (a *API) WidgetLink(actor string, ttl time.Duration) string {
	if len(a.widgetKey) == 0 || actor == "" {
		return ""
	}
	exp := a.now().Add(ttl).Unix()
	v := url.Values{
		"actor": {actor},
		"exp":   {strconv.FormatInt(exp, 10)},
		"sig":   {base64.RawURLEncoding.EncodeToString(widgetMAC(a.widgetKey, actor, exp))},
	}
	return "/ui/widget?" + v.Encode()
}

// WidgetFrameAncestors are the origins Config allows to frame the widget.
func (a *API) WidgetFrameAncestors() []string { return slices.Clone(a.ancestors) }

// verifyWidget returns the actor of the signed link in q.
func (a *API) verifyWidget(q url.Values) (string, error) {
	if len(a.widgetKey) == 0 || onlyParams(q, "actor", "exp", "sig") != nil {
		return "", ErrWidgetLink
	}
	actor, expS, sigS := q.Get("actor"), q.Get("exp"), q.Get("sig")
	exp, err := strconv.ParseInt(expS, 10, 64)
	if actor == "" || err != nil || len(q["actor"]) != 1 || len(q["sig"]) != 1 {
		return "", ErrWidgetLink
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigS)
	if err != nil || !hmac.Equal(sig, widgetMAC(a.widgetKey, actor, exp)) {
		return "", ErrWidgetLink
	}
	if !a.now().Before(time.Unix(exp, 0)) {
		return "", ErrWidgetLink
	}
	return actor, nil
}

// WidgetEvents checks the signed widget link in r's query and returns the
// newest events (at most limit) of its actor, recording the read. The error
// is ErrWidgetLink for a link to refuse (answer 403); any other error is
// the store's.
func (a *API) WidgetEvents(r *http.Request, limit int) (actor string, events []event.Event, err error) {
	actor, err = a.verifyWidget(r.URL.Query())
	if err != nil {
		return "", nil, err
	}
	res, err := a.store.Query(r.Context(), store.Filter{OwnActor: actor}, store.Page{Limit: limit})
	if err != nil {
		return "", nil, fmt.Errorf("reading the widget's events: %w", err)
	}
	// The recorded query leaves out the signature: a recorded link must not
	// be a working one.
	recorded := url.Values{"actor": {actor}, "exp": r.URL.Query()["exp"]}.Encode()
	a.recordAs(r, event.Actor{ID: "widget:" + actor, Type: "widget"}, ActionViewed,
		fmt.Sprintf("a signed widget link showed %s of %s", plural(len(res.Events), "event"), actor), "", recorded, event.OutcomeSuccess)
	return actor, res.Events, nil
}
