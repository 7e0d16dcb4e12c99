#!/usr/bin/env bash
# make demo: the whole anteater chain on this machine, on 127.0.0.1 only.
#
# Starts node_exporter, Prometheus (rules/anteater.rules.yml and the demo's
# recording rules), Alertmanager and anteater (with its embedded Kafka
# broker), lets the models warm up, then injects a real fault (busy loops on
# every CPU and a stream of synced disk writes, in one `anteater chaos`
# child process) and shows the chain as it happens: the scores on
# anteater's /metrics, the alert in Prometheus, the webhook's counters,
# then the anomaly and cause events read back from Kafka with kcat.
#
# It ends by itself within 5 minutes and stops every process it started.
#
# Usage: scripts/demo.sh [--keep]
#   --keep (or DEMO_KEEP=1)  keep the stack running afterwards, until Ctrl-C
# Environment: DEMO_WARMUP (seconds of baseline before the fault, 60),
#   DEMO_TIMEOUT (seconds to wait for the cause events after the fault, 200),
#   BIN (the anteater binary, bin/anteater).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
BIN=${BIN:-$REPO/bin/anteater}
KEEP=${DEMO_KEEP:-0}
WARMUP=${DEMO_WARMUP:-60}
TIMEOUT=${DEMO_TIMEOUT:-200}
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' N=$'\e[0m'; else B='' G='' R='' Y='' N=''; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
say() { printf '   %s\n' "$*"; }
die() {
	printf '%sdemo: %s%s\n' "$R" "$*" "$N" >&2
	exit 1
}

# ---- what is missing ------------------------------------------------------
step "Checking dependencies"
./scripts/install-deps.sh
missing=()
for c in jq curl; do command -v "$c" >/dev/null || missing+=("$c"); done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	say "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x "$BIN" ] || die "$BIN not found: run make demo (it builds first) or make build"
for c in prometheus prometheus-alertmanager prometheus-node-exporter kcat jq curl; do
	command -v "$c" >/dev/null || die "$c is still missing"
done
say "prometheus $(prometheus --version 2>&1 | awk 'NR==1{print $3}'), alertmanager $(prometheus-alertmanager --version 2>&1 | awk 'NR==1{print $3}'), node_exporter $(prometheus-node-exporter --version 2>&1 | awk 'NR==1{print $3}'), $(kcat -V 2>&1 | awk '/^Version/{print "kcat", $2}')"

# The 5-minute budget starts here, after any installation.
SECONDS=0

# ---- ports and files ------------------------------------------------------
# The usual ports, or the next free ones.
taken=" "
port() {
	local p=$1
	while [[ $taken == *" $p "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	taken+="$p "
	echo "$p"
}
P_PROM=$(port 9090)
P_AM=$(port 9093)
P_NODE=$(port 9100)
P_ANT=$(port 9863)
P_KAFKA=$(port 9092)
PROM=http://127.0.0.1:$P_PROM
AM=http://127.0.0.1:$P_AM
ANT=http://127.0.0.1:$P_ANT
KAFKA=127.0.0.1:$P_KAFKA

RUN=$(mktemp -d "${TMPDIR:-/var/tmp}/anteater-demo.XXXXXX")
ports=(-e "s#127\.0\.0\.1:9090#127.0.0.1:$P_PROM#g" -e "s#127\.0\.0\.1:9093#127.0.0.1:$P_AM#g"
	-e "s#127\.0\.0\.1:9100#127.0.0.1:$P_NODE#g" -e "s#127\.0\.0\.1:9863#127.0.0.1:$P_ANT#g"
	-e "s#127\.0\.0\.1:9092#127.0.0.1:$P_KAFKA#g")
sed "${ports[@]}" -e "s#\.\./\.\./rules/#$REPO/rules/#" -e "s#- demo\.rules\.yml#- $REPO/scripts/demo/demo.rules.yml#" \
	scripts/demo/prometheus.yml >"$RUN/prometheus.yml"
sed "${ports[@]}" scripts/demo/alertmanager.yml >"$RUN/alertmanager.yml"
sed "${ports[@]}" -e "s#^state_dir: data#state_dir: $RUN/anteater-data#" scripts/demo/anteater.yml >"$RUN/anteater.yml"

# ---- processes ------------------------------------------------------------
PIDS=()
NAMES=()
CHAOS_PID=""
SLEEP_PID=""
start() { # name command...: runs in the background, logs in $RUN/name.log
	local name=$1
	shift
	"$@" >"$RUN/$name.log" 2>&1 &
	PIDS+=($!)
	NAMES+=("$name")
}
stop_pid() { # pid: TERM, then KILL after 10s
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
ok=0
cleanup() {
	trap - EXIT INT TERM
	[ -n "$SLEEP_PID" ] && stop_pid "$SLEEP_PID"
	[ -n "$CHAOS_PID" ] && stop_pid "$CHAOS_PID"
	if [ ${#PIDS[@]} -gt 0 ]; then
		step "Stopping"
		local i
		for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
			stop_pid "${PIDS[i]}"
			say "stopped ${NAMES[i]} (pid ${PIDS[i]})"
		done
	fi
	if [ "$ok" = 1 ]; then
		rm -rf "$RUN"
	else
		say "logs and configuration kept in $RUN"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ready() { # name url seconds
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
		sleep 0.2
	done
	tail -n 20 "$RUN/$1.log" >&2 || true
	die "$1 not ready at $2 after $3s"
}

step "Starting the stack (files in $RUN)"
start node_exporter prometheus-node-exporter --web.listen-address="127.0.0.1:$P_NODE" \
	--collector.disable-defaults --collector.cpu --collector.meminfo --collector.loadavg --collector.diskstats
start alertmanager prometheus-alertmanager --config.file="$RUN/alertmanager.yml" --storage.path="$RUN/alertmanager" \
	--web.listen-address="127.0.0.1:$P_AM" --web.external-url="$AM/" --cluster.listen-address= --log.level=warn
start prometheus prometheus --config.file="$RUN/prometheus.yml" --storage.tsdb.path="$RUN/prometheus" \
	--web.listen-address="127.0.0.1:$P_PROM" --web.external-url="$PROM/" --rules.alert.resend-delay=1s --log.level=warn
start anteater "$BIN" serve --config.file="$RUN/anteater.yml" --web.listen-address="127.0.0.1:$P_ANT" --kafka.embedded
wait_ready node_exporter "http://127.0.0.1:$P_NODE/metrics" 20
wait_ready alertmanager "$AM/-/ready" 30
wait_ready prometheus "$PROM/-/ready" 30
wait_ready anteater "$ANT/-/healthy" 30
for ((i = 0; i < ${#PIDS[@]}; i++)); do say "${NAMES[i]} pid ${PIDS[i]}"; done

step "URLs"
say "anteater       $ANT/metrics   (webhook $ANT/webhook/alertmanager)"
say "Prometheus     $PROM/alerts   $PROM/graph?g0.expr=anteater_anomaly_score"
say "Alertmanager   $AM/#/alerts"
say "node_exporter  http://127.0.0.1:$P_NODE/metrics"
say "Kafka          $KAFKA   kcat -C -b $KAFKA -t gala_anteater_hybrid_model -o beginning -e"

# ---- reading the chain ----------------------------------------------------
metric() { # name and labels as exposed, e.g. 'anteater_events_total{kind="cause"}'
	curl -fsS "$ANT/metrics" 2>/dev/null | awk -v m="$1" 'index($0, m" ") == 1 { print $2; found=1 } END { if (!found) print 0 }'
}
scores() { # the top scores per job, highest first
	curl -fsS "$ANT/metrics" 2>/dev/null | awk '
		/^anteater_anomaly_score\{/ {
			job = $0; sub(/.*anteater_job="/, "", job); sub(/".*/, "", job)
			v = $NF + 0; if (!(job in best) || v > best[job]) best[job] = v
		}
		END { for (j in best) printf "%s %.2f\n", j, best[j] }' | sort -k2,2nr
}
warming() { # scored series still warming up
	curl -fsS "$ANT/metrics" 2>/dev/null | awk '/^anteater_series_warming\{/ && $NF == 1 { n++ } /^anteater_series_warming\{/ { t++ } END { print (t ? n+0 : -1) }'
}
alerts() { # anteater's series anomaly alerts in Prometheus: job:state
	curl -fsS "$PROM/api/v1/alerts" 2>/dev/null |
		jq -r '[.data.alerts[] | select(.labels.alertname == "AnteaterSeriesAnomaly") | "\(.labels.anteater_job):\(.state)"] | sort | join(" ")'
}
topic() { # every payload of a topic, one per line
	kcat -C -b "$KAFKA" -t "$1" -o beginning -e -q -f '%s\n' 2>/dev/null || true
}
# awk reads its whole input (no head): with pipefail, a writer killed by
# SIGPIPE would end the demo.
top_line() { scores | awk 'NR <= 5 { printf "%s%s %s", (NR > 1 ? " | " : ""), $1, $2 } END { print "" }'; }

step "Warm-up: ${WARMUP}s of normal load while the models learn the baseline"
t0=$SECONDS
for ((i = 0; i < 90; i++)); do
	w=$(warming)
	[ "$w" = 0 ] && break
	sleep 1
done
[ "$(warming)" = 0 ] || die "the demo jobs are still warming after 90s (see $RUN/anteater.log)"
say "every series is scored after $((SECONDS - t0))s"
while ((SECONDS - t0 < WARMUP)); do
	say "[$(printf '%3d' $((SECONDS - t0)))s] top scores: $(top_line)"
	sleep 5
done

# ---- the fault ------------------------------------------------------------
step "Injecting the fault: busy loops on all $(nproc) CPUs and synced disk writes"
nice -n 19 "$BIN" chaos --disk.dir="$RUN" --disk.rate=64MiB --duration=$((TIMEOUT + 20))s >"$RUN/chaos.log" 2>&1 &
CHAOS_PID=$!
say "anteater chaos pid $CHAOS_PID (like chaosblade's cpu fullload + disk burn; stops by itself)"
tf=$SECONDS
t_score="" t_alert="" t_webhook="" t_anomaly="" t_cause=""
mark() { [ -n "${!1}" ] || printf -v "$1" '%s' "$((SECONDS - tf))"; }
settle=""
# The whole demo stays within 5 minutes: stop watching at 4m40s at most.
while ((SECONDS - tf < TIMEOUT && SECONDS < 280)); do
	# Read from the end of the chain back, so a hop seen in this round
	# is never shown later than the next one.
	n_ca=$(topic gala_cause_inference | grep -c . || true)
	n_an=$(topic gala_anteater_hybrid_model | grep -c . || true)
	acc=$(metric 'anteater_webhook_alerts_total{result="accepted"}')
	al=$(alerts)
	sc=$(scores)
	top=$(awk 'NR == 1 { print $2 }' <<<"$sc")
	awk -v v="${top:-0}" 'BEGIN { exit !(v > 1) }' && mark t_score
	[[ $al == *":firing"* ]] && mark t_alert
	awk -v v="$acc" 'BEGIN { exit !(v > 0) }' && mark t_webhook
	((n_an > 0)) && mark t_anomaly
	((n_ca > 0)) && mark t_cause
	say "[+$(printf '%3d' $((SECONDS - tf)))s] scores: $(awk 'NR <= 4 { printf "%s%s %s", (NR > 1 ? " | " : ""), $1, $2 }' <<<"$sc")"
	say "        alerts: ${al:-none}   webhook accepted: ${acc%.*}   kafka: ${n_an} anomaly, ${n_ca} cause"
	# Stop once every pending or firing alert has its cause event, or 25s
	# after the first one.
	if ((n_ca > 0)); then
		active=$(wc -w <<<"$al")
		[ -z "$settle" ] && settle=$SECONDS
		((n_ca >= active || SECONDS - settle >= 25)) && break
	fi
	sleep 3
done
stop_pid "$CHAOS_PID"
CHAOS_PID=""
say "fault stopped after $((SECONDS - tf))s"

step "The chain (seconds after the fault started)"
show() { if [ -n "$2" ]; then say "$(printf '%-44s %s+%ss%s' "$1" "$G" "$2" "$N")"; else say "$(printf '%-44s %snot seen%s' "$1" "$R" "$N")"; fi; }
show "score above 1 on anteater's /metrics" "$t_score"
show "alert firing in Prometheus" "$t_alert"
show "notification accepted by anteater's webhook" "$t_webhook"
show "anomaly event on Kafka" "$t_anomaly"
show "cause event on Kafka" "$t_cause"

step "Anomaly events (kcat -C -b $KAFKA -t gala_anteater_hybrid_model)"
topic gala_anteater_hybrid_model | jq '{Timestamp, Attributes, Resource: (.Resource | {anomaly_score, anomaly_ratio, metrics, metric_label, recommend_metrics: (.recommend_metrics | keys)}), SeverityText, Body}' || true

step "Cause events (kcat -C -b $KAFKA -t gala_cause_inference)"
causes=$(topic gala_cause_inference)
echo "$causes" | jq '{event_id, desc, top1, top2, top3, keywords,
	abnormal_kpi: .Resource.abnormal_kpi | {metric_id, metric_labels, score},
	cause_metrics: [.Resource.cause_metrics[] | {metric_id, keyword, score: (.score * 1000 | round / 1000), path: [.path[] | {instance, pod_state}]}]}' 2>/dev/null || true

step "Result"
found=$(echo "$causes" | jq -r '.Resource.cause_metrics[].keyword // empty' 2>/dev/null | grep -E '^(cpu|disk)$' | sort -u | paste -sd, -)
if [ -n "$t_cause" ] && [ -n "$found" ]; then
	ok=1
	say "${G}OK${N}: the injected resources ($found) are among the ranked causes"
else
	say "${R}FAILED${N}: no cause event naming the injected cpu or disk (see $RUN/anteater.log)"
fi

if [ "$KEEP" = 1 ]; then
	step "The stack keeps running (--keep): explore the URLs above; Ctrl-C stops it"
	while :; do
		sleep 3600 &
		SLEEP_PID=$!
		wait "$SLEEP_PID" || true
	done
fi
[ "$ok" = 1 ]
