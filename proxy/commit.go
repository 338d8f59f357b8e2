package proxy

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// commit holds the upstream's answer (resp, or the proxy's own 502/504)
// until the observer has made the exchange's events durable: the head and
// up to the capture limit of the body are read first, so that rules can
// use them, then Commit runs. Only when it succeeds does the client get
// the answer, unchanged; otherwise the client gets 503 and nothing of the
// upstream's answer (fail closed, like Kubernetes' blocking-strict audit).
func (p *Proxy) commit(rec *recording, r *http.Request, resp *http.Response) *http.Response {
	x := rec.x // a copy: finish() fills in the real one later
	x.Duration = time.Since(x.Start)
	x.Status = resp.StatusCode
	x.ResponseHeader = resp.Header.Clone()
	x.UpstreamError = rec.upstreamError
	if rec.body.ReadCloser != nil {
		x.RequestBody = rec.body.seal().result(rec.wantReqBody)
	}

	// Read what rules may need; the rest streams later, after the commit.
	held, readErr := io.ReadAll(io.LimitReader(resp.Body, p.limit+1))
	x.ResponseBody = event.Body{
		Captured:  rec.wantRespBody,
		Data:      held[:min(int64(len(held)), p.limit)],
		Truncated: int64(len(held)) > p.limit,
		Size:      max(resp.ContentLength, int64(len(held))),
	}
	if !rec.wantRespBody {
		x.ResponseBody.Data = nil
	}
	x.ResponseIncomplete = readErr != nil

	if err := p.committer.Commit(&x); err != nil {
		resp.Body.Close()
		p.log.Error().Err(err).Str("request_id", x.RequestID).Str("method", x.Method).Str("path", x.Path).
			Msg("delivery: critical: the event could not be made durable; the client gets 503 and not the app's answer")
		return gatewayResponse(r, http.StatusServiceUnavailable, "audit log unavailable\n")
	}
	rec.committed = true
	if resp.ContentLength >= 0 {
		// goproxy drops Content-Length when the body is swapped; the
		// capture writer puts it back so the client sees what was sent.
		rec.w.contentLength = resp.ContentLength
	}
	resp.Body = heldBody{Reader: io.MultiReader(bytes.NewReader(held), resp.Body), Closer: resp.Body}
	return resp
}

// heldBody is a response body whose start was read ahead for the commit.
type heldBody struct {
	io.Reader
	io.Closer
}
