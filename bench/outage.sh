#!/usr/bin/env bash
# Memory during a collector outage: auditproxy under steady load with a
# disk-buffered webhook output whose collector is down for the whole run.
# The backlog must go to disk, not to memory: the proxy's RSS is sampled
# every 10 s and printed with the buffer's size on disk.
# Usage: bash bench/outage.sh [SECONDS]   (default 600; bounded by it)
set -euo pipefail
secs=${1:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$root"
go build -o "$tmp/upstream" ./bench/upstream
go build -o "$tmp/auditproxy" ./cmd/auditproxy
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
YAML
cat >"$tmp/config.yaml" <<YAML
outputs:
  - {type: http, name: siem, url: "http://127.0.0.1:19199/down", buffer: {type: disk, dir: $tmp/buf, max_bytes: 4GiB}, retry: {initial: 1s, max: 5s}}
admin: 127.0.0.1:19198
YAML
export GOMAXPROCS=1
taskset -c 1 "$tmp/upstream" -listen 127.0.0.1:19100 2>/dev/null & pids+=($!)
taskset -c 1 "$tmp/auditproxy" run --config "$tmp/config.yaml" --listen 127.0.0.1:19101 \
	--upstream http://127.0.0.1:19100 --rules "$tmp/rules.yaml" --data-dir "$tmp/data" 2>"$tmp/proxy.log" &
px=$!; pids+=($px)
sleep 1
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); collector down for ${secs}s; wrk -c4 on CPU 0"
taskset -c 0 wrk -t1 -c4 -d"${secs}s" -s bench/post.lua http://127.0.0.1:19101 -- 42 >"$tmp/wrk.txt" 2>&1 & pids+=($!)
start=$(date +%s)
echo "  t(s)   RSS(MiB)  buffer on disk(MiB)  events waiting"
while (( $(date +%s) - start < secs )); do
	sleep 10
	rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$px/status)
	disk=$(du -sm "$tmp/buf" 2>/dev/null | cut -f1)
	depth=$(curl -s http://127.0.0.1:19198/metrics | awk '/^auditproxy_output_queue_depth/ {print $2}')
	printf "  %4d   %8s  %19s  %s\n" $(( $(date +%s) - start )) "$rss" "${disk:-0}" "${depth:-?}"
done
sleep 1
grep -E "Requests/sec|requests in" "$tmp/wrk.txt"
