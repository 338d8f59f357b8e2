#!/usr/bin/env bash
# One output vs three: the same proxy under the same wrk load, first with
# events to one file, then to a file, a second file in ECS and a disk-buffered
# webhook (to a local server that discards), alternating, three rounds.
# The proxy and the upstream share CPU 1 (GOMAXPROCS=1); wrk and the webhook
# receiver run on CPU 0: a collector runs on its own machine, and its work
# must not be counted as the proxy's. Besides requests/s, each run reports
# the CPU time of the proxy and the upstream per request (from /proc), which
# other load on the machine disturbs less. Bounded: about 1 minute. Needs
# wrk (apt-get install wrk).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$root"
go build -o "$tmp/upstream" ./bench/upstream
go build -o "$tmp/auditproxy" ./cmd/auditproxy
cat >"$tmp/discard.go" <<'GO'
package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	http.ListenAndServe(os.Args[1], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
}
GO
go build -o "$tmp/discard" "$tmp/discard.go"
cat >"$tmp/rules.yaml" <<'YAML'
version: 1
defaults:
  actor: {id: jwt.sub, name: jwt.name}
rules:
  - name: item-saved
    match: {method: POST, path: "/items/{id}", status: 2xx}
    action: item.saved
    target: {type: item, id: path.id, name: request.body.name}
    changes: [name, price]
    description: "{actor.name} saved item {target.id}"
YAML
cat >"$tmp/one.yaml" <<YAML
outputs:
  - {type: file, path: $tmp/one.jsonl}
YAML
cat >"$tmp/three.yaml" <<YAML
outputs:
  - {type: file, path: $tmp/three-a.jsonl}
  - {type: file, path: $tmp/three-b.jsonl, format: ecs}
  - {type: http, url: "http://127.0.0.1:19099/hook", buffer: {type: disk, dir: $tmp/buf}}
YAML
export GOMAXPROCS=1
taskset -c 1 "$tmp/upstream" -listen 127.0.0.1:19000 2>/dev/null & pids+=($!)
taskset -c 0 "$tmp/discard" 127.0.0.1:19099 & pids+=($!)
up=${pids[0]}
# cpu PID: its CPU time so far, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
sleep 0.5
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in 1 2 3; do
	for cfg in one three; do
		rm -rf "$tmp/buf" "$tmp"/*.jsonl "$tmp/data"
		taskset -c 1 "$tmp/auditproxy" run --config "$tmp/$cfg.yaml" --listen 127.0.0.1:19001 \
			--upstream http://127.0.0.1:19000 --rules "$tmp/rules.yaml" --data-dir "$tmp/data" 2>"$tmp/$cfg.log" &
		px=$!
		sleep 0.7
		taskset -c 0 wrk -t1 -c32 -d1s -s bench/post.lua http://127.0.0.1:19001 -- 42 >/dev/null 2>&1
		c0=$(($(cpu $px) + $(cpu $up)))
		out=$(taskset -c 0 wrk -t1 -c32 -d6s -s bench/post.lua http://127.0.0.1:19001 -- 42 2>/dev/null)
		c1=$(($(cpu $px) + $(cpu $up)))
		r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
		n=$(awk '/requests in/ {print $1}' <<<"$out")
		us=$(awk -v c=$((c1 - c0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", c / hz * 1e6 / n}')
		kill -TERM $px; wait $px 2>/dev/null || true
		echo "round $round: $cfg output(s): $r requests/s, $us µs CPU/request (proxy + upstream)"
		if [[ $cfg == one ]]; then
			one=$r oneus=$us
		else
			echo "  three / one: requests/s $(awk -v a="$r" -v b="$one" 'BEGIN {printf "%.3f", a/b}'), CPU per request one / three $(awk -v a="$us" -v b="$oneus" 'BEGIN {printf "%.3f", b/a}')"
		fi
	done
done
