#!/usr/bin/env bash
# bench.sh runs the benchmarks the issues name and prints one table. Run it through `make bench`,
# which builds bin/narwhal and starts the test stack first. Timings on shared machines are noisy:
# compare the side-by-side ratios of one run, not absolute figures across runs.
#
#   exec overhead   `narwhal exec` of a one-step `true` pipeline vs `docker run --rm IMAGE true`,
#                   interleaved, median of RUNS each (issue 2: target ratio <= 1.15)
#   log throughput  a step printing 200 MB through `narwhal exec` into the log sink: MB/s and peak
#                   RSS, next to a 50 MB run to show RSS does not grow with the log (target >= 100 MB/s)
#   Go benchmarks   log writer throughput; intake webhooks/s and latency (SQLite+memq, RabbitMQ)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-15}
IMAGE=${NARWHAL_TEST_IMAGE:-narwhal-test/busybox:1}
NARWHAL=$PWD/bin/narwhal
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
rows=()
row() { rows+=("$(printf '%-44s %s' "$1" "$2")"); }

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# --- exec overhead ---------------------------------------------------------------------------
mkdir -p "$work/one"
printf 'image: %s\nsteps:\n  - name: t\n    commands: ["true"]\n' "$IMAGE" >"$work/one/narwhal.yml"
docker run --rm "$IMAGE" true # warm the image and the daemon
(cd "$work/one" && "$NARWHAL" exec >/dev/null)
: >"$work/exec.t"; : >"$work/docker.t"
for _ in $(seq "$RUNS"); do
	t0=$(now); (cd "$work/one" && "$NARWHAL" exec >/dev/null); t1=$(now)
	calc "$t1 - $t0" >>"$work/exec.t"
	t0=$(now); docker run --rm "$IMAGE" true; t1=$(now)
	calc "$t1 - $t0" >>"$work/docker.t"
done
e=$(median <"$work/exec.t"); d=$(median <"$work/docker.t")
row "exec one-step true, median of $RUNS (s)" "$(printf '%.3f' "$e")"
row "docker run --rm true, median of $RUNS (s)" "$(printf '%.3f' "$d")"
row "ratio exec / docker run (target <= 1.15)" "$(printf '%.2f' "$(calc "$e / $d")")"

# --- log throughput --------------------------------------------------------------------------
logrun() { # $1 = bytes; prints "seconds rss_kib"
	local dir=$work/log$1; mkdir -p "$dir"
	cat >"$dir/narwhal.yml" <<YML
image: $IMAGE
steps:
  - name: spew
    commands:
      - yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijk | head -c $1
YML
	local t0 t1
	t0=$(now)
	(cd "$dir" && /usr/bin/time -f '%M' -o "$dir/rss" "$NARWHAL" exec >/dev/null)
	t1=$(now)
	echo "$(calc "$t1 - $t0") $(cat "$dir/rss")"
}
read -r s200 rss200 < <(logrun 200000000)
read -r s50 rss50 < <(logrun 50000000)
t0=$(now); docker run --rm "$IMAGE" sh -c 'yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijk | head -c 200000000' >/dev/null; t1=$(now)
raw=$(calc "$t1 - $t0")
row "200 MB step through exec: MB/s (>= 100)" "$(printf '%.0f' "$(calc "200 / $s200")")"
row "200 MB via docker run > /dev/null: MB/s" "$(printf '%.0f' "$(calc "200 / $raw")")"
row "peak RSS of exec, 50 MB log (MiB)" "$(calc "int($rss50 / 1024)")"
row "peak RSS of exec, 200 MB log (MiB)" "$(calc "int($rss200 / 1024)")"

# --- Go benchmarks ---------------------------------------------------------------------------
gobench() { # $1 = package, $2 = benchmark regexp
	go test -run '^$' -bench "$2" -benchtime "${BENCHTIME:-2s}" "$1" 2>&1 | grep -E '^Benchmark' || true
}
while read -r line; do row "$(echo "$line" | awk '{print $1}')" "$(echo "$line" | cut -d' ' -f2- | tr -s ' \t' ' ')"; done < <(
	gobench ./internal/logsink 'BenchmarkLogThroughput'
	gobench ./internal/intake/... 'BenchmarkIntake'
	gobench ./functions/agent/... 'BenchmarkIntake'
)

printf '\n%-44s %s\n' "benchmark" "result"
printf '%s\n' "--------------------------------------------------------------------------------"
printf '%s\n' "${rows[@]}"
