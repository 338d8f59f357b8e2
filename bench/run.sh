#!/usr/bin/env bash
# bench/run.sh: throughput and latency of auditproxy against nginx, Caddy and
# the bare upstream, on loopback, with wrk. See docs/BENCHMARKS.md.
#
#   bench/run.sh                                # from anywhere; the defaults:
#   ROUNDS=3 DURATION=6 WARMUP=2 bench/run.sh   # about 2 minutes of load
#   QUIET_WAIT=120 bench/run.sh                 # shared machine: wait up to 120 s
#                                               # for quiet before each run
#
# Every target is the same tiny Go upstream (bench/upstream), reached:
#   direct           wrk -> upstream
#   nginx            wrk -> nginx proxy_pass (keepalive upstream, no access log) -> upstream
#   caddy            wrk -> caddy reverse_proxy (JSON access log to a file) -> upstream
#   auditproxy-off   wrk -> auditproxy, rules that match nothing -> upstream
#   auditproxy-on    wrk -> auditproxy, one rule matching every request (request
#                    body captured, JWT actor), events to a file -> upstream
# wrk sends POST /items/<target> with a ~500-byte JSON body and a Bearer JWT
# (bench/post.lua). With two or more CPUs, wrk runs alone on one and every
# server (proxy and upstream, GOMAXPROCS=1 for the Go ones) on another.
#
# Each run also measures the CPU time of the target's processes per request
# and the CPU used meanwhile by any other process ("other CPU": 0 when the
# machine is quiet; more means the numbers are disturbed).
#
# After the runs it stops auditproxy-on (which writes out every queued event)
# and holds its events file against what the upstream answered: one event
# per write the app answered, none dropped.
#
# Installs wrk, nginx and caddy with apt-get when they are missing (needs
# root or sudo). Needs Go. Exit status: 0 done; 1 setup failed (a tool
# missing, a build failing, a server not starting); 2 the event accounting
# check failed. Missing the throughput target is reported, not an error.
set -euo pipefail

ROUNDS=${ROUNDS:-3}            # passes over all targets, in turn; each target's fastest is reported
DURATION=${DURATION:-6}        # seconds measured per target and round
WARMUP=${WARMUP:-2}            # seconds of unmeasured load before each measured run
QUIET_WAIT=${QUIET_WAIT:-0}    # on a shared machine: seconds to wait for quiet before each run
CONNECTIONS=${CONNECTIONS:-32} # wrk -c
TARGET_ON_OFF=0.85             # the issue's target: auditing costs at most 15%

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out=${OUT:-$root/bench/out} # where the report is saved
[[ $out == /* ]] || out=$PWD/$out

say() { printf '%s\n' "$*"; }
die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------- tools

as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root or sudo to run: $*"
	fi
}

have() { command -v "$1" >/dev/null || [[ -x /usr/sbin/$1 ]]; }

install_tools() {
	local need=() created_policy=0 rc=0
	have wrk || need+=(wrk)
	have nginx || need+=(nginx)
	[[ ${#need[@]} -eq 0 ]] && have caddy && return
	command -v apt-get >/dev/null || die "missing ${need[*]:-caddy} and no apt-get to install them"
	say "installing with apt-get: ${need[*]} $(have caddy || echo caddy)"
	as_root apt-get update -q >/dev/null || die "apt-get update failed"
	if ! have caddy; then
		say "apt-cache policy caddy:"
		apt-cache policy caddy | sed 's/^/  /'
		if apt-cache policy caddy | grep -q 'Candidate: [0-9]'; then
			need+=(caddy)
		else
			say "caddy is not in this machine's Debian repositories: the caddy target is skipped"
		fi
	fi
	[[ ${#need[@]} -eq 0 ]] && return
	# Installing nginx or caddy starts their system service on port 80 unless
	# policy-rc.d says no; the benchmark runs its own copies and starts no
	# service. A policy-rc.d already there (e.g. Docker's) is left alone.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		as_root sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
		created_policy=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null || rc=$?
	if [[ $created_policy -eq 1 ]]; then
		as_root rm -f /usr/sbin/policy-rc.d
	fi
	[[ $rc -eq 0 ]] || die "apt-get install ${need[*]} failed"
}

# cpus_allowed prints the CPUs this process may run on, one per line.
cpus_allowed() {
	local list range
	list=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
	IFS=, read -ra ranges <<<"$list"
	for range in "${ranges[@]}"; do
		if [[ $range == *-* ]]; then
			seq "${range%-*}" "${range#*-}"
		else
			echo "$range"
		fi
	done
}

# ---------------------------------------------------------------- processes

pids=()
names=()
tmp=""

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local i
	for i in "${!pids[@]}"; do
		kill -TERM "${pids[$i]}" 2>/dev/null || true
	done
	for i in "${!pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "${pids[$i]}" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "${pids[$i]}" 2>/dev/null || true
	done
	# Only the servers: a bare wait would also wait for the tee of the report.
	[[ ${#pids[@]} -eq 0 ]] || wait "${pids[@]}" 2>/dev/null || true
	if [[ -n $tmp && ${KEEP_TMP:-0} != 1 ]]; then
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background on the servers' CPU, its
# output in $tmp/NAME.log.
start() {
	local name=$1
	shift
	"${pin_servers[@]}" "$@" >"$tmp/$name.log" 2>&1 &
	pids+=($!)
	names+=("$name")
}

pid_of() {
	local i
	for i in "${!names[@]}"; do
		[[ ${names[$i]} == "$1" ]] && echo "${pids[$i]}" && return
	done
}

# http_get PORT PATH prints the whole response to a GET, without curl.
http_get() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" &&
			printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&3 &&
			timeout 5 cat <&3
	) 2>/dev/null || true
}

# wait_ready NAME PORT: until GET /items/ready answers 200; fails the run if
# the server exits or does not answer within 15 s.
wait_ready() {
	local name=$1 port=$2 pid resp
	pid=$(pid_of "$name")
	for _ in $(seq 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$tmp/$name.log" >&2 || true
			die "$name exited during startup (the end of its log is above)"
		fi
		resp=$(http_get "$port" /items/ready)
		if [[ $resp == "HTTP/1."?" 200"* ]]; then
			return
		fi
		sleep 0.1
	done
	tail -n 20 "$tmp/$name.log" >&2 || true
	die "$name did not answer 200 on 127.0.0.1:$port within 15 s (the end of its log is above)"
}

# stop NAME: SIGTERM and wait for it to exit (auditproxy then writes out
# its queued events and logs its counts).
stop() {
	local pid
	pid=$(pid_of "$1")
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	die "$1 did not exit within 30 s of SIGTERM"
}

used_ports=" "
# free_port VAR sets VAR to a port nothing listens on, below the ephemeral
# range so that no client connection takes it meanwhile. (Not called in $(),
# which would forget used_ports.)
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		[[ $used_ports == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			used_ports+="$p "
			printf -v "$1" %s "$p"
			return
		fi
	done
	die "no free port found"
}

upstream_count() { http_get "$port_upstream" "/_bench/count/$1" | tail -n 1 | tr -dc 0-9; }

# ---------------------------------------------------------------- setup

install_tools
command -v go >/dev/null || die "go is not installed (the upstream and auditproxy are built from source)"
command -v wrk >/dev/null || die "wrk is not installed"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $nginx_bin ]] || die "nginx is not installed"
caddy_bin=$(command -v caddy || true)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/auditproxy-bench.XXXXXX")
chmod 755 "$tmp" # nginx workers may run as another user; they only need to traverse it

say "building bench/upstream and cmd/auditproxy"
(cd "$root" && go build -o "$tmp/upstream" ./bench/upstream) || die "building bench/upstream failed"
(cd "$root" && go build -o "$tmp/auditproxy" ./cmd/auditproxy) || die "building cmd/auditproxy failed"

# Servers start in the temp dir, so that whatever they write by default
# (auditproxy's data dir, for one) goes away with it.
cd "$tmp"

mapfile -t cpus < <(cpus_allowed)
if [[ ${#cpus[@]} -ge 2 ]] && command -v taskset >/dev/null; then
	pin_wrk=(taskset -c "${cpus[0]}")
	pin_servers=(taskset -c "${cpus[1]}")
	pinning="wrk on CPU ${cpus[0]}; proxy and upstream on CPU ${cpus[1]}"
else
	pin_wrk=()
	pin_servers=()
	pinning="not pinned (${#cpus[@]} CPU allowed, or no taskset): wrk and the servers share the CPU"
fi
export GOMAXPROCS=1 # every Go server: one P, like nginx's one worker

port_upstream="" port_nginx="" port_caddy="" port_on="" port_off=""
for v in port_upstream port_nginx port_caddy port_on port_off; do
	free_port "$v"
done
up=127.0.0.1:$port_upstream

# nginx: its own prefix, pid and logs; as root, workers stay root instead of
# becoming nobody (the directive is ignored, with a warning, otherwise).
mkdir -p "$tmp/nginx"
nginx_user=""
if [[ $EUID -eq 0 ]]; then
	nginx_user="user $(id -un) $(id -gn);"
fi
cat >"$tmp/nginx/nginx.conf" <<EOF
$nginx_user
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    upstream app {
        server $up;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$port_nginx;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF

mkdir -p "$tmp/caddy"
cat >"$tmp/Caddyfile" <<EOF
{
	admin off
	auto_https off
	storage file_system $tmp/caddy/data
}
http://127.0.0.1:$port_caddy {
	reverse_proxy $up
	log {
		output file $tmp/caddy/access.log {
			# Rolling would gzip the old file in the background, on the
			# servers' CPU, during the runs of the other targets.
			roll_disabled
		}
		format json
	}
}
EOF

# Auditing on: the rule of the issue's example, matching every request sent.
cat >"$tmp/rules-on.yaml" <<'EOF'
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
EOF
# Auditing off: the same proxy, a rule no request matches.
cat >"$tmp/rules-off.yaml" <<'EOF'
version: 1
rules:
  - name: never
    match: {method: DELETE, path: /never/requested}
    action: never.happens
EOF
"$tmp/auditproxy" check "$tmp/rules-on.yaml" >/dev/null || die "rules-on.yaml is rejected"
"$tmp/auditproxy" check "$tmp/rules-off.yaml" >/dev/null || die "rules-off.yaml is rejected"

# ---------------------------------------------------------------- start

start upstream "$tmp/upstream" -listen "$up"
wait_ready upstream "$port_upstream"

start nginx "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log"
wait_ready nginx "$port_nginx"

targets=(direct nginx)
if [[ -n $caddy_bin ]]; then
	HOME=$tmp/caddy XDG_DATA_HOME=$tmp/caddy XDG_CONFIG_HOME=$tmp/caddy \
		start caddy "$caddy_bin" run --config "$tmp/Caddyfile" --adapter caddyfile
	wait_ready caddy "$port_caddy"
	targets+=(caddy)
else
	say "caddy is not installed: the caddy target is skipped"
fi

start auditproxy-off "$tmp/auditproxy" run --listen "127.0.0.1:$port_off" --upstream "http://$up" \
	--rules "$tmp/rules-off.yaml" --output "file:$tmp/events-off.jsonl" --data-dir "$tmp/data-off"
wait_ready auditproxy-off "$port_off"
start auditproxy-on "$tmp/auditproxy" run --listen "127.0.0.1:$port_on" --upstream "http://$up" \
	--rules "$tmp/rules-on.yaml" --output "file:$tmp/events-on.jsonl" --data-dir "$tmp/data-on"
wait_ready auditproxy-on "$port_on"
targets+=(auditproxy-off auditproxy-on)

declare -A port=([direct]=$port_upstream [nginx]=$port_nginx [caddy]=$port_caddy
	[auditproxy-off]=$port_off [auditproxy-on]=$port_on)

# ---------------------------------------------------------------- run

mkdir -p "$out"
report=$out/run-$(date -u +%Y%m%dT%H%M%SZ).txt
exec > >(tee "$report") 2>&1

say "auditproxy benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)"
say "tools:   $(go version | cut -d' ' -f3-), $("$nginx_bin" -v 2>&1 | sed 's|.*/||;s/^/nginx /'), caddy $([[ -n $caddy_bin ]] && "$caddy_bin" version | cut -d' ' -f1 || echo '(skipped)'), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
say "load:    wrk -t1 -c$CONNECTIONS, POST ~500-byte JSON + Bearer JWT; $ROUNDS rounds over the targets in turn, each run ${WARMUP}s warm-up then ${DURATION}s measured"
say "cpus:    $pinning; GOMAXPROCS=1"
say ""

clk_tck=$(getconf CLK_TCK)

# busy_ticks: CPU time the machine spent on anything but idling, all CPUs.
# Interrupt time counts: the kernel charges it to the process it interrupted
# too, and loopback traffic makes plenty.
busy_ticks() {
	local user nice system irq softirq steal
	read -r _ user nice system _ _ irq softirq steal _ </proc/stat
	echo $((user + nice + system + irq + softirq + steal))
}

# proc_ticks PID...: CPU time of these processes and of their children
# (nginx's worker), in clock ticks.
proc_ticks() {
	local want=" $* " total=0 f line pid
	local -a s
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue # gone meanwhile
		read -ra s <<<"${line##*) }"                   # fields from the 3rd (state) on
		pid=${f#/proc/}
		pid=${pid%/stat}
		if [[ $want == *" $pid "* || $want == *" ${s[1]} "* ]]; then
			total=$((total + s[11] + s[12]))
		fi
	done
	echo "$total"
}

# children_ticks VAR sets VAR to the CPU time of this shell's finished
# children (wrk), from the times builtin. Not called in $(): a subshell has
# no children.
children_ticks() {
	times >"$tmp/times"
	printf -v "$1" %s "$(awk -v hz="$clk_tck" 'NR == 2 {
		s = 0
		for (i = 1; i <= 2; i++) { split($i, ms, "m"); s += ms[1] * 60 + ms[2] }
		printf "%.0f", s * hz }' "$tmp/times")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# wait_quiet: with QUIET_WAIT=N, waits up to N seconds until the machine has
# been idle for a second (every server here is idle at this point), so that
# runs on a shared machine dodge other people's bursts.
wait_quiet() {
	local b0 waited=0
	((QUIET_WAIT > 0)) || return 0
	while ((waited < QUIET_WAIT)); do
		b0=$(busy_ticks)
		sleep 1
		(($(busy_ticks) - b0 <= clk_tck / 20)) && break
		waited=$((waited + 1))
	done
	((waited == 0)) || say "  (waited ${waited}s for the machine to go quiet$( ((waited < QUIET_WAIT)) || echo ': it did not'))"
}

b0=$(busy_ticks)
sleep 2
say "idle check: $(awk -v b=$(($(busy_ticks) - b0)) -v hz="$clk_tck" 'BEGIN { printf "%.2f", b / hz / 2 }') CPUs busy over 2 s with every server idle (0 on a quiet machine)"

# Results by "target,round"; totals by target.
declare -A rps p50 p99 cpu other ok bad sockerr
c0=0 c1=0
for t in "${targets[@]}"; do
	ok[$t]=0 bad[$t]=0 sockerr[$t]=0
done
for round in $(seq "$ROUNDS"); do
	order=("${targets[@]}")
	if ((round % 2 == 0)); then
		# Every other round runs auditing on before off, so that neither
		# always follows the other.
		n=${#order[@]}
		order[n - 2]=auditproxy-on order[n - 1]=auditproxy-off
	fi
	for t in "${order[@]}"; do
		k=$t,$round
		url=http://127.0.0.1:${port[$t]}
		wait_quiet
		"${pin_wrk[@]}" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$here/post.lua" "$url" -- "$t-warmup" >/dev/null
		# The servers of this target: the upstream, and the proxy if any.
		serving=("$(pid_of upstream)")
		[[ $t == direct ]] || serving+=("$(pid_of "$t")")
		children_ticks c0
		s0=$(proc_ticks "${serving[@]}") t0=$EPOCHREALTIME b0=$(busy_ticks)
		"${pin_wrk[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s -s "$here/post.lua" "$url" -- "$t" \
			>"$tmp/wrk-$t-$round.txt"
		b1=$(busy_ticks) t1=$EPOCHREALTIME s1=$(proc_ticks "${serving[@]}")
		children_ticks c1
		line=$(grep '^WRK_RESULT ' "$tmp/wrk-$t-$round.txt") || die "wrk printed no result for $t: $(cat "$tmp/wrk-$t-$round.txt")"
		declare -A r=()
		for kv in ${line#WRK_RESULT }; do
			r[${kv%%=*}]=${kv#*=}
		done
		ok[$t]=$((ok[$t] + r[requests] - r[status_errors]))
		bad[$t]=$((bad[$t] + r[status_errors]))
		sockerr[$t]=$((sockerr[$t] + r[connect_errors] + r[read_errors] + r[write_errors] + r[timeouts]))
		rps[$k]=$(awk -v n="${r[requests]}" -v us="${r[duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
		p50[$k]=$(awk -v us="${r[p50_us]}" 'BEGIN { printf "%.2f", us / 1000 }')
		p99[$k]=$(awk -v us="${r[p99_us]}" 'BEGIN { printf "%.2f", us / 1000 }')
		# CPU time of the servers (proxy and upstream) per request: less
		# disturbed by other load than requests/s.
		cpu[$k]=$(awk -v s=$((s1 - s0)) -v n="${r[requests]}" -v hz="$clk_tck" 'BEGIN { printf "%.1f", s / hz / n * 1e6 }')
		# CPUs' worth of work by anything but wrk and this target's servers:
		# other users of this machine, which make the numbers unreliable.
		other[$k]=$(awk -v b=$((b1 - b0)) -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v hz="$clk_tck" -v t0="$t0" -v t1="$t1" \
			'BEGIN { o = (b - s - c) / hz / (t1 - t0); printf "%.2f", o < 0 ? 0 : o }')
		say "round $round, $t: ${rps[$k]} requests/s (other CPU ${other[$k]})"
	done
done
say ""

# Other load only ever slows a run down, so each target is reported by its
# fastest round; every round's requests/s is shown beside it.
declare -A best
printf '| %-15s | %10s | %7s | %7s | %13s | %9s | %7s | %8s | %-24s |\n' \
	target requests/s "p50 ms" "p99 ms" "server us/req" "other CPU" non-2xx "sock err" "requests/s by round"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' \
	:---------------- -----------: --------: --------: -------------: ----------: --------: ---------: :-------------------------
worst_other=0
for t in "${targets[@]}"; do
	b=1 all=""
	for round in $(seq "$ROUNDS"); do
		((${rps[$t,$round]} > ${rps[$t,$b]})) && b=$round
		all+="${rps[$t,$round]} "
	done
	best[$t]=$t,$b
	k=${best[$t]}
	worst_other=$(awk -v a="$worst_other" -v b="${other[$k]}" 'BEGIN { print (b > a) ? b : a }')
	printf '| %-15s | %10s | %7s | %7s | %13s | %9s | %7s | %8s | %-24s |\n' "$t" "${rps[$k]}" "${p50[$k]}" "${p99[$k]}" \
		"${cpu[$k]}" "${other[$k]}" "${bad[$t]}" "${sockerr[$t]}" "${all% }"
done
say ""
say "Each target's fastest of $ROUNDS rounds: requests/s, p50, p99, server us/req (CPU time of proxy +"
say "upstream per request) and other CPU (CPUs' worth of work by other processes meanwhile; 0 when quiet)."
say "non-2xx and socket errors are totals over all rounds."
if awk -v o="$worst_other" 'BEGIN { exit !(o > 0.10) }'; then
	say "WARNING: other processes used up to $worst_other CPUs during a reported run: the machine was not quiet, the numbers are unreliable."
fi
say ""

on=${best[auditproxy-on]} off=${best[auditproxy-off]}
say "ratios, fastest rounds of this run:"
for base in direct nginx caddy auditproxy-off; do
	[[ -n ${best[$base]:-} ]] || continue
	say "  requests/s auditproxy-on / $base = $(ratio "${rps[$on]}" "${rps[${best[$base]}]}")"
done
say "  server CPU per request auditproxy-on / auditproxy-off = $(ratio "${cpu[$on]}" "${cpu[$off]}")"
paired=""
for round in $(seq "$ROUNDS"); do
	paired+="$(ratio "${rps[auditproxy-on,$round]}" "${rps[auditproxy-off,$round]}") "
done
say "  requests/s auditproxy-on / auditproxy-off by round (adjacent runs): ${paired% }"
# verdict NAME RATIO: is the target met by this measure of on/off?
verdict() {
	if awk -v r="$2" -v t="$TARGET_ON_OFF" 'BEGIN { exit !(r >= t) }'; then
		say "  target on/off >= $TARGET_ON_OFF by $1: met ($2)"
	else
		say "  target on/off >= $TARGET_ON_OFF by $1: NOT met ($2: auditing costs $(awk -v r="$2" 'BEGIN { printf "%.0f", (1 - r) * 100 }')% of the bare proxy's throughput)"
	fi
}
verdict requests/s "$(ratio "${rps[$on]}" "${rps[$off]}")"
# Proxy and upstream share one saturated CPU, so requests/s is at most
# 1 / (CPU per request): the CPU ratio predicts the throughput ratio, and
# other load on the machine disturbs it much less.
verdict "CPU per request (off/on)" "$(ratio "${cpu[$off]}" "${cpu[$on]}")"
say ""

# ---------------------------------------------------------------- events

# Stopping auditproxy finishes requests in flight and writes every queued
# event before it exits; its last log line counts what it built and lost.
stop auditproxy-on
stop auditproxy-off
stopped=$(grep '"stopped"' "$tmp/auditproxy-on.log" | tail -n 1) || die "auditproxy-on logged no stop line"
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2"; }
dropped=$(field dropped "$stopped")
write_errors=$(field write_errors "$stopped")
[[ -n $write_errors ]] || write_errors=$(field refused_by_outputs "$stopped") # the same count, as later versions name it
events=$(grep -c '"path":"/items/auditproxy-on"' "$tmp/events-on.jsonl" || true)
complete=$(grep '"path":"/items/auditproxy-on"' "$tmp/events-on.jsonl" |
	grep '"name":"Bench User"' | grep '"name":"Widget 42"' | grep -vc '"warnings"' || true)
lost_events=$(grep -c '"audit.events_lost"' "$tmp/events-on.jsonl" || true)
events_off=$(wc -l <"$tmp/events-off.jsonl")
served=$(upstream_count auditproxy-on)
warnings=$(grep -c '"level":"warn' "$tmp/auditproxy-on.log" || true)
errors=$(grep -c '"level":"error' "$tmp/auditproxy-on.log" || true)
inflight=$((events - ${ok[auditproxy-on]}))
max_inflight=$((CONNECTIONS * ROUNDS))

say "audit events, auditproxy-on, measured runs of all rounds:"
say "  2xx responses wrk counted:             ${ok[auditproxy-on]}"
say "  writes the upstream answered:          $served"
say "  events in the file:                    $events (complete: actor, target, no warnings: $complete)"
say "  events minus wrk's 2xx:                $inflight (in flight when wrk stopped its clock: at most $CONNECTIONS per run)"
say "  dropped, refused by outputs (proxy's counts): ${dropped:-not logged}, ${write_errors:-not logged}; audit.events_lost events: $lost_events"
say "  proxy log: $warnings warnings, $errors errors; auditproxy-off wrote $events_off events"
fail=0
[[ $events -eq $served ]] || { say "  FAIL: events ($events) != writes the upstream answered ($served)"; fail=1; }
[[ $inflight -ge 0 && $inflight -le $max_inflight ]] ||
	{ say "  FAIL: events ($events) are not wrk's 2xx count (${ok[auditproxy-on]}) plus at most $max_inflight in flight"; fail=1; }
[[ $complete -eq $events ]] || { say "  FAIL: $((events - complete)) events lack actor or target or carry warnings"; fail=1; }
[[ ${dropped:-0} == 0 && ${write_errors:-0} == 0 && $lost_events -eq 0 ]] || { say "  FAIL: events were dropped or not written"; fail=1; }
[[ $events_off -eq 0 ]] || { say "  FAIL: auditing off still wrote $events_off events"; fail=1; }
if [[ -n $caddy_bin ]]; then
	caddy_lines=$(grep -c '"uri":"/items/caddy"' "$tmp/caddy/access.log" || true)
	say "  (caddy's access log: $caddy_lines lines for $(upstream_count caddy) writes answered)"
fi
if [[ $fail -eq 0 ]]; then
	say "  OK: one complete event per write the upstream answered, none lost"
fi
say ""
say "report saved to ${report#"$root"/}"
exit $((fail * 2))
