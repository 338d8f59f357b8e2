package output

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("http", Kind{FlagArg: "url", Open: fromSpec(OpenWebhook)})
}

var _ Sink = (*Webhook)(nil)

// Webhook POSTs each batch to a URL, as one JSON array, as JSON lines, or
// in an envelope, optionally signed the Standard Webhooks way
// (https://www.standardwebhooks.com, spec/standard-webhooks.md) so that the
// receiver can tell the batch came from us, unaltered and recently:
//
//	outputs:
//	  - type: http
//	    url: https://hooks.example/audit
//	    encoding: array          # array (default) | ndjson | envelope
//	    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
//	    headers: {Authorization: Bearer ...}
//
// Every 2xx is success; 408, 429 and 5xx are retried (429 and 503 after
// their Retry-After); any other status is permanent, with the receiver's
// reply in the error.
type Webhook struct {
	*httpClient
	format      format.Format
	encoding    string
	contentType string
	key         []byte // HMAC key; nil: requests are not signed
	size        bodySize
}

type webhookOptions struct {
	httpOptions `yaml:",inline"`
	// Encoding of a batch: "array" (the default) is [rec,rec], "ndjson" is
	// one record per line, "envelope" is {"events":[rec,rec]}.
	Encoding string `yaml:"encoding"`
	// Secret signs requests (Standard Webhooks): "whsec_" followed by the
	// key in base64, as Standard Webhooks libraries print it, or else the
	// key itself, used as it is written. "" sends no signature headers.
	Secret string `yaml:"secret"`
}

// OpenWebhook builds the http sink a spec describes.
func OpenWebhook(s Spec) (*Webhook, error) {
	var o webhookOptions
	if err := s.DecodeOptions(&o); err != nil {
		return nil, err
	}
	f, err := format.Get(s.Format)
	if err != nil {
		return nil, err
	}
	w := &Webhook{format: f, encoding: o.Encoding}
	switch o.Encoding {
	case "", "array", "envelope":
		if w.encoding == "" {
			w.encoding = "array"
		}
		if !isJSONFormat(f) {
			return nil, fmt.Errorf("encoding: %s puts records in a JSON array, but format %s writes text (%s); use encoding: ndjson, or a JSON format", w.encoding, f.Name(), f.ContentType())
		}
		w.contentType = "application/json"
	case "ndjson":
		w.contentType = "application/x-ndjson"
		if !isJSONFormat(f) {
			w.contentType = f.ContentType() // lines of cef or text
		}
	default:
		return nil, fmt.Errorf("encoding: %q is not one of array, ndjson, envelope", o.Encoding)
	}
	if o.Secret != "" {
		if w.key, err = webhookKey(o.Secret); err != nil {
			return nil, err
		}
	}
	if w.httpClient, err = newHTTPClient(s, "webhook", o.httpOptions, ""); err != nil {
		return nil, err
	}
	if w.key != nil {
		for _, h := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
			if w.header.Get(h) != "" {
				return nil, fmt.Errorf("headers: %s is set by secret:", h)
			}
		}
		w.addSecret(o.Secret)
	}
	return w, nil
}

// webhookKey decodes a secret: Standard Webhooks' "whsec_<base64>", or the
// raw key.
func webhookKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New("secret: whsec_ must be followed by the key in base64")
	}
	return key, nil
}

// Write sends the batch in one request.
func (w *Webhook) Write(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	body := w.encode(w.size.buffer(len(events)), events)
	w.size.learn(body, len(events))
	var header http.Header
	if w.key != nil {
		id, ts := webhookID(events), strconv.FormatInt(time.Now().Unix(), 10)
		header = http.Header{
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {ts},
			"Webhook-Signature": {"v1," + webhookSignature(w.key, id, ts, body)},
		}
	}
	r, err := w.post(ctx, w.url, w.contentType, header, body)
	if err == nil && !r.ok() {
		err = w.statusError(r, string(r.body), retryableStatus)
	}
	if err != nil {
		return fmt.Errorf("sending %d events to %s: %w", len(events), w.where, err)
	}
	return nil
}

func (w *Webhook) encode(dst []byte, events []event.Event) []byte {
	switch w.encoding {
	case "ndjson":
		for i := range events {
			dst = w.format.Append(dst, &events[i])
			dst = append(dst, '\n')
		}
		return dst
	case "envelope":
		dst = append(dst, `{"events":`...)
	}
	dst = append(dst, '[')
	for i := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = w.format.Append(dst, &events[i])
	}
	dst = append(dst, ']')
	if w.encoding == "envelope" {
		dst = append(dst, '}')
	}
	return dst
}

// webhookID is the webhook-id of a batch. Standard Webhooks wants it the
// same when a message is sent again and different for another message,
// since receivers deduplicate by it. A batch of one event is that event's
// id. A larger batch gets "batch_" and a hash of all its event ids: the
// first event's id alone would be wrong, as a retry may send a different
// batch that starts with the same event, which the receiver would then
// skip as already seen.
func webhookID(events []event.Event) string {
	if len(events) == 1 {
		return events[0].ID
	}
	h := sha256.New()
	for i := range events {
		h.Write([]byte(events[i].ID))
		h.Write([]byte{'\n'})
	}
	return "batch_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// webhookSignature is base64(HMAC-SHA256(key, "id.timestamp.body")), the
// v1 scheme of Standard Webhooks. With compression: gzip it signs the body
// before compression, the one the receiver reads once the transport
// encoding is undone.
func webhookSignature(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
