package proxy

import (
	"net/http"

	"github.com/auditproxy/auditproxy/event"
)

// Interest is what an Observer wants from one exchange, decided from the
// request head alone. The zero value records nothing: the request streams
// through untouched and no Exchange is built.
type Interest struct {
	Record       bool // build an Exchange and hand it to Observe
	RequestBody  bool // capture a bounded copy of the request body
	ResponseBody bool // capture a bounded copy of the response body
	// ResponseHeader keeps the response header in the Exchange; without
	// it (and ResponseBody) Exchange.ResponseHeader is nil, but for a
	// redirect, whose Location the proxy reads itself.
	ResponseHeader bool
	Token          any // carried unchanged into Exchange.Token

	// Before, when not empty, is a path (with query, if any) on the
	// upstream to GET before the request is forwarded, sent with the
	// client's credentials; its answer becomes Exchange.Before. It tells
	// what state a change replaces. Empty: no pre-fetch. Only with Record.
	// The request waits for it at most Config.BeforeTimeout and is then
	// forwarded whatever happened; a failure is noted in
	// Exchange.BeforeError. It must start with a single "/".
	Before string

	// Critical holds the response until the Observer, which must then be a
	// Committer, has made the exchange's events durable: the client gets
	// the upstream's answer only after that, or a 503 when it fails.
	Critical bool
}

// Observer is told about exchanges. Interest runs on the request path for
// every request and must be cheap; Observe runs once the response is written
// and must not block (queue the exchange and return).
type Observer interface {
	Interest(r *http.Request) Interest
	Observe(x *event.Exchange)
}

// Committer is an Observer that can make an exchange's events durable
// while the proxy holds the response (Interest.Critical). Commit runs on
// the request path and bounds its own wait; the exchange it gets has the
// response head and up to the capture limit of the response body.
type Committer interface {
	Commit(x *event.Exchange) error
}
