package rules

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/auditproxy/auditproxy/event"
)

// maxInflated bounds a gzip-encoded captured body once decompressed, so a
// small compressed body cannot expand into a memory problem.
const maxInflated = 8 << 20

// bodyKind is what a captured body turned out to be.
type bodyKind uint8

const (
	bodyEmpty bodyKind = iota
	bodyJSON
	bodyForm
	bodyTruncated   // over the capture limit: nothing is extracted from it
	bodyUnparseable // neither JSON nor a form
	bodyNotCaptured // nobody asked for it (a planning bug if a value is wanted)
)

// parsedBody is a captured body, parsed once on first use.
type parsedBody struct {
	kind bodyKind
	json []byte
	form url.Values
}

func parseBody(b *event.Body, h http.Header) parsedBody {
	switch {
	case !b.Captured:
		return parsedBody{kind: bodyNotCaptured}
	case b.Truncated:
		return parsedBody{kind: bodyTruncated}
	case len(b.Data) == 0:
		return parsedBody{kind: bodyEmpty}
	}
	data := b.Data
	if enc := firstValue(h["Content-Encoding"]); enc == "gzip" || enc == "x-gzip" {
		inflated, err := gunzip(data)
		if err != nil {
			return parsedBody{kind: bodyUnparseable}
		}
		data = inflated
	}
	ct := mediaType(firstValue(h["Content-Type"]))
	if ct == "multipart/form-data" {
		_, ctParams, _ := mime.ParseMediaType(h.Get("Content-Type"))
		form, err := multipartFields(data, ctParams["boundary"])
		if err != nil {
			return parsedBody{kind: bodyUnparseable}
		}
		return parsedBody{kind: bodyForm, form: form}
	}
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return parsedBody{kind: bodyUnparseable}
		}
		return parsedBody{kind: bodyForm, form: form}
	}
	// Legacy apps label JSON in many ways (text/plain, none at all): trust
	// the bytes, not the label.
	if gjson.ValidBytes(data) {
		return parsedBody{kind: bodyJSON, json: data}
	}
	return parsedBody{kind: bodyUnparseable}
}

// firstValue is h.Get for a key written in canonical form, without
// canonicalizing it again.
func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxInflated {
		return nil, io.ErrShortBuffer
	}
	return out, nil
}

// multipartFields reads the text fields of a multipart form; a file part
// is recorded by its file name, never its content.
func multipartFields(data []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, errors.New("multipart body without a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	form := url.Values{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return form, nil
		}
		if err != nil {
			return nil, err
		}
		name := part.FormName()
		if name == "" {
			continue
		}
		if fn := part.FileName(); fn != "" {
			form.Add(name, fn)
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, maxInflated))
		if err != nil {
			return nil, err
		}
		form.Add(name, string(v))
	}
}

// field is one flattened body field and its JSON value.
type field struct {
	name      string
	raw       []byte
	sensitive bool // the name marks a secret
}

// flatten lists every field of the body: nested JSON objects become dotted
// names (profile.phone), arrays stay whole values; form fields in name
// order (a repeated field keeps its first value).
func (p *parsedBody) flatten() []field {
	var out []field
	switch p.kind {
	case bodyJSON:
		root := gjson.ParseBytes(p.json)
		if root.IsObject() {
			flattenJSON("", root, &out)
		}
	case bodyForm:
		names := make([]string, 0, len(p.form))
		for n := range p.form {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if vs := p.form[n]; len(vs) > 0 {
				out = append(out, field{name: n, raw: stringValue(vs[0]).json()})
			}
		}
	}
	return out
}

func flattenJSON(prefix string, obj gjson.Result, out *[]field) {
	obj.ForEach(func(k, v gjson.Result) bool {
		name := k.String()
		if prefix != "" {
			name = prefix + "." + name
		}
		if v.IsObject() && len(v.Map()) > 0 {
			flattenJSON(name, v, out)
		} else {
			*out = append(*out, field{name: name, raw: []byte(v.Raw)})
		}
		return true
	})
}

// get looks up a gjson path (JSON) or a field name (form).
func (p *parsedBody) get(path string) value {
	switch p.kind {
	case bodyJSON:
		return getJSON(p.json, path)
	case bodyForm:
		if vs, ok := p.form[path]; ok && len(vs) > 0 {
			return stringValue(vs[0])
		}
	}
	return value{}
}

// problem explains why values from this body are missing, "" when nothing
// went wrong (an empty body or an absent field is not a problem).
func (p *parsedBody) problem(side string) string {
	switch p.kind {
	case bodyTruncated:
		return side + " body is larger than the capture limit; " + side + ".body values not extracted"
	case bodyUnparseable:
		return side + " body is neither JSON nor a form; " + side + ".body values not extracted"
	case bodyNotCaptured:
		if side == "before" {
			return "before: no previous state was fetched"
		}
		return side + " body was not captured; " + side + ".body values not extracted"
	}
	return ""
}
