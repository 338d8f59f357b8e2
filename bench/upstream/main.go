// Command upstream is the app behind the proxies in bench/run.sh: as fast
// as net/http allows, so that what the benchmark measures is the proxy.
//
//	POST|PUT|PATCH /items/{id}  reads the body, answers 200 with a small JSON object
//	GET /items/{id}             answers 200 with the same kind of object
//	GET /_bench/count/{id}      how many writes to /items/{id} were answered, as text
//
// The count is what the benchmark holds the audit trail against: every write
// the app answered must have its event, including those still in flight
// when wrk stopped its clock.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	flag.Parse()

	var a app
	mux := http.NewServeMux()
	mux.HandleFunc("POST /items/{id}", a.write)
	mux.HandleFunc("PUT /items/{id}", a.write)
	mux.HandleFunc("PATCH /items/{id}", a.write)
	mux.HandleFunc("GET /items/{id}", a.read)
	mux.HandleFunc("GET /_bench/count/{id}", a.count)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("upstream listening on %s", *listen)
	log.Fatal(srv.ListenAndServe())
}

type app struct {
	writes sync.Map // item id -> *atomic.Int64, writes answered
}

func (a *app) write(w http.ResponseWriter, r *http.Request) {
	// Read the whole body, as an app that saves it would.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	reply(w, id)
	n, ok := a.writes.Load(id)
	if !ok {
		n, _ = a.writes.LoadOrStore(id, new(atomic.Int64))
	}
	n.(*atomic.Int64).Add(1)
}

func (a *app) read(w http.ResponseWriter, r *http.Request) {
	reply(w, r.PathValue("id"))
}

func (a *app) count(w http.ResponseWriter, r *http.Request) {
	var total int64
	if n, ok := a.writes.Load(r.PathValue("id")); ok {
		total = n.(*atomic.Int64).Load()
	}
	w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
	fmt.Fprintln(w, total)
}

// reply writes {"id":"<id>","name":"widget","price":12.5,"saved":true}.
// The id is a path segment; it is quoted as a JSON string, which is safe for
// the ids the benchmark uses (letters, digits, dashes).
func reply(w http.ResponseWriter, id string) {
	b := make([]byte, 0, 96)
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, id)
	b = append(b, `,"name":"widget","price":12.5,"saved":true}`...)
	b = append(b, '\n')
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.Write(b)
}
