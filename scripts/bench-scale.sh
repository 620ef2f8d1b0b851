# bench-scale.sh: the CPU budget of the throughput targets, the scale curves, the cost per job on
# AWS and the Lambda size of issue 15, as tables of their own after bench.sh's. bench.sh sources
# it and calls budget_section, which reads bench.sh's rows, and scale_section, which uses
# bench.sh's $work, calc, median and cold (and the runner certificate and events it made there).
#
#   CPU budget    the cores each throughput target needs at the CPU time per unit its benchmark
#                 measured (see budget_section), beside the cores of this machine
#   scale curves  dispatch p50/p99 with 10, 100, 1,000 runners and with 10,000 jobs queued;
#                 GET /jobs with 1k/10k/100k jobs in SQLite and in DynamoDB (moto); intake with
#                 1, 8, 64 senders. Each line after the first shows cost growth ÷ work growth:
#                 above 1.2 is flagged as faster than linear; a list page must not grow at all.
#   cost per job  BenchmarkCostPerJob (internal/lambdatest): requests per job and dollars per
#                 1,000 jobs at on-demand list prices of us-east-1 (docs/cost.md)
#   lambda size   the dispatcher's zip as `make build-DispatcherFunction` ships it, and its cold
#                 start under the emulator interleaved with an empty Go function's
# NARWHAL_BENCH_ROWS sets the largest DynamoDB table (moto answers a GSI Query by scanning the
# whole table, so 100,000 rows take minutes there; see docs/cost.md).

scale_failed=0
scale_rows=()
srow() { scale_rows+=("$(printf '%-46s %-30s %-18s %s' "$1" "$2" "$3" "$4")"); }

# sbench PKG REGEXP BENCHTIME: the benchmark's result lines; a failed run marks the section failed.
sbench() {
	local out
	if ! out=$(go test -run '^$' -bench "$2" -benchtime "$3" -timeout 60m "$1" 2>&1); then
		echo "bench-scale: $1 $2 failed:" >&2; echo "$out" | tail -20 >&2
		scale_failed=1
	fi
	echo "$out" | grep -E '^Benchmark' || true
}

# metric LINE UNIT: the value reported with UNIT on a benchmark line ("" when absent).
metric() { echo "$1" | awk -v u="$2" '{for (i = 2; i < NF; i++) if ($(i+1) == u) {print $i; exit}}'; }

# growth PREV CUR WORKRATIO LIMIT: "×c ÷ ×w = r" and a verdict, r = (CUR/PREV) / WORKRATIO.
growth() {
	awk -v p="$1" -v c="$2" -v w="$3" -v lim="$4" 'BEGIN {
		if (p <= 0 || c == "") { print "n/a\tn/a"; exit }
		g = c / p; r = g / w
		printf "×%.2f for ×%g work (%.2f)\t%s\n", g, w, r, (r > lim ? "FASTER THAN LINEAR" : "ok") }'
}

# curve NAME UNIT WORK... < lines: one row per benchmark line, growth against the previous one.
curve() {
	local name=$1 unit=$2; shift 2
	local prev="" prevw="" line w i=0 works=("$@")
	while read -r line; do
		w=${works[$i]}; i=$((i + 1))
		local p50 p99; p50=$(metric "$line" "$unit"); p99=$(metric "$line" "${unit/p50/p99}")
		if [ -z "$prev" ]; then
			srow "$name, $w" "p50 $p50, p99 $p99 ms" "-" "-"
		else
			local lim=1.2; [ "$unit" = first-p50-ms ] && lim=$(calc "1.5 / ($w / $prevw)")
			IFS=$'\t' read -r g v < <(growth "$prev" "$p50" "$(calc "$w / $prevw")" "$lim")
			srow "$name, $w" "p50 $p50, p99 $p99 ms" "$g" "$v"
		fi
		prev=$p50; prevw=$w
	done
}

# units_curve NAME ROWS... < lines: DynamoDB's list pages by read units per page, which must stay
# the same; moto's time is shown but not judged (it scans the table for a GSI Query).
units_curve() {
	local name=$1; shift
	local first="" line u i=0 rows=("$@")
	while read -r line; do
		u=$(metric "$line" units/page)
		if [ -z "$u" ]; then # the benchmark failed at this size: no figure, no verdict
			srow "$name, ${rows[$i]}" "no figure" "-" "no figure"
			i=$((i + 1)); continue
		fi
		first=${first:-$u}
		srow "$name, ${rows[$i]}" "RCU/page $u; moto p50 $(metric "$line" first-p50-ms) ms" "×$(calc "$u / $first") units" \
			"$(awk -v u="$u" -v f="$first" 'BEGIN {print (u <= f ? "ok (flat)" : "GROWS WITH THE TABLE")}')"
		i=$((i + 1))
	done
}

scale_curves() {
	sbench ./internal/dispatch 'BenchmarkDispatchScale' 1000x >"$work/scale.dispatch"
	grep 'queued=0-' "$work/scale.dispatch" >"$work/scale.fleet" || true
	curve "dispatch queue→accept, runners" p50-ms 10 100 1000 <"$work/scale.fleet"
	local base loaded
	base=$(grep 'runners=10/queued=0-' "$work/scale.dispatch" || true)
	loaded=$(grep 'queued=10000-' "$work/scale.dispatch" || true)
	IFS=$'\t' read -r g v < <(growth "$(metric "$base" p50-ms)" "$(metric "$loaded" p50-ms)" 1 1.5)
	srow "dispatch, 10 runners, 10,000 queued" "p50 $(metric "$loaded" p50-ms), p99 $(metric "$loaded" p99-ms) ms" "$g vs 0 queued" "$v"
	sbench ./internal/store/sqlite 'BenchmarkListScale' 300x >"$work/scale.sqlite"
	curve "GET /jobs SQLite newest page, rows" first-p50-ms 1000 10000 100000 <"$work/scale.sqlite"
	sbench ./internal/store/dynamo 'BenchmarkListScale' 2x >"$work/scale.dynamo"
	local big=${NARWHAL_BENCH_ROWS:-100000}
	units_curve "GET /jobs DynamoDB (moto), rows" 1000 10000 "$big" <"$work/scale.dynamo"
	sbench ./internal/webhook 'BenchmarkIntakeSenders' 3000x >"$work/scale.intake"
	curve "intake SQLite+memq, senders" p50-ms 1 8 64 <"$work/scale.intake"
}

# cost_table: per-job figures of BenchmarkCostPerJob, one row per pipeline.
cost_table() {
	local line name
	sbench ./internal/lambdatest 'BenchmarkCostPerJob' 10x >"$work/scale.cost"
	while read -r line; do
		name=$(echo "$line" | sed -E 's/^BenchmarkCostPerJob\/pipeline=([^ -]+(-steps)?).*/\1/')
		local w; w=$(metric "$line" dynamo-writes/job)
		srow "cost/job $name: DynamoDB req, writes" "$(metric "$line" dynamo-reqs/job), $w (WCU $(metric "$line" wcu/job), RCU $(metric "$line" rcu/job))" \
			"writes ≤ 8 (5 + 2 + 1)" "$(awk -v w="$w" 'BEGIN {print (w != "" && w <= 8 ? "met" : "NOT MET")}')"
		local p; p=$(metric "$line" s3-put+list/job)
		srow "cost/job $name: S3 PUT+LIST, GET+HEAD" "$p, $(metric "$line" s3-get+head/job)" \
			"PUT+LIST ≤ 1.1 (a one-chunk log)" "$(awk -v p="$p" 'BEGIN {print (p != "" && p <= 1.1 ? "met" : "NOT MET")}')"
		srow "cost/job $name: secrets warm (cold start)" "$(metric "$line" secrets/job) ($(metric "$line" cold-secrets))" "≤ 1 warm (the repo's)" "$(awk -v s="$(metric "$line" secrets/job)" 'BEGIN {print (s != "" && s <= 1 ? "met" : "NOT MET")}')"
		srow "cost/job $name: Lambda invokes, MQ msgs" "$(metric "$line" lambda-invokes/job), $(metric "$line" mq-msgs/job)" "" ""
		srow "cost $name: USD per 1,000 jobs" "$(metric "$line" usd/1k-jobs)" "us-east-1 on-demand" ""
	done <"$work/scale.cost"
}

# lambda_size: the shipped dispatcher zip and its cold start beside an empty function's, interleaved.
lambda_size() {
	local d=$work/scale-lambda; mkdir -p "$d/ship" "$d/run" "$d/floor"
	make -s build-DispatcherFunction ARTIFACTS_DIR="$d/ship" >/dev/null
	(cd "$d/ship" && zip -q -9 ../dispatcher.zip bootstrap)
	local mb; mb=$(calc "$(stat -c %s "$d/dispatcher.zip") / 1000000")
	srow "dispatcher zip as shipped, arm64 (MB)" "$mb" "≤ 6" "$(awk -v m="$mb" 'BEGIN {print (m <= 6 ? "met" : "NOT MET")}')"
	make -s build-DispatcherFunction ARTIFACTS_DIR="$d/run" ARCHITECTURE=x86_64 >/dev/null
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -tags lambda.norpc,grpcnotrace -trimpath -ldflags='-s -w' \
		-o "$d/floor/bootstrap" ./internal/lambdatest/testdata/fixture
	local env=(NARWHAL_TABLE=bench NARWHAL_LOG_BUCKET=bench "NARWHAL_RUNNER_CA=$(cat "$work/cert/runner.crt")"
		NARWHAL_RUNNER_TOKEN=benchbenchbenchbench NARWHAL_AMQP_URL=amqp://narwhal:narwhal@127.0.0.1:5682/
		NARWHAL_API_TOKENS=benchbenchbenchbench AWS_REGION=us-east-1)
	: >"$d/cold.fn"; : >"$d/cold.floor"
	for _ in $(seq 15); do
		LAMBDA_ENV=("${env[@]}"); cold "$d/run" "$work/healthz.json" >>"$d/cold.fn"
		LAMBDA_ENV=(AWS_REGION=us-east-1); cold "$d/floor" "$work/echo.json" >>"$d/cold.floor"
	done
	local fn fl; fn=$(median <"$d/cold.fn"); fl=$(median <"$d/cold.floor")
	local diff; diff=$(calc "$fn - $fl")
	srow "dispatcher cold start − empty function (ms)" "$(printf '%.0f − %.0f = %.0f' "$fn" "$fl" "$diff")" "≤ 20" "$(awk -v x="$diff" 'BEGIN {print (x <= 20 ? "met" : "NOT MET")}')"
}

# --- CPU budget: the cores each throughput target needs at the CPU time per unit measured ----
# Each benchmark of a throughput target reports the CPU time one unit took in its process (and,
# for RabbitMQ, in the broker's): testenv.CPUClock. Target × CPU per unit is the cores the target
# needs with the code as it is; on a machine with fewer, the target cannot be met without taking
# work away. The processes measured include what the benchmark runs beside narwhal on this
# machine (the in-process no-op runners' side of each Run; the webhooks are signed before the clock starts), which
# also has to fit for the benchmark to reach its target here.
budget_rows=()
brow() { budget_rows+=("$(printf '%-44s %-16s %-28s %s' "$1" "$2" "$3" "$4")"); }

# bench_row NAME: bench.sh's row of that benchmark ("" when it did not run).
bench_row() { # $1 = the row's whole label (a benchmark name, and a note such as " (journaled ext4)")
	printf '%s\n' "${rows[@]}" | awk -v n="$1" 'substr($0, 1, length(n) + 1) == n " " {
		rest = substr($0, length(n) + 2); sub(/^ +/, "", rest); if (rest ~ /^[0-9]/) {print; exit}
	}'
}

# budget LABEL RATE US: a row for a target of RATE units/s at US microseconds of CPU per unit.
budget() {
	local cores; cores=$(nproc)
	if [ -z "$3" ]; then brow "$1" "no figure" "? cores for $2/s" "no figure"; return; fi
	brow "$1" "$3 us" "$(calc "$2 * $3 / 1000000") cores for $2/s" "$(awk -v r="$2" -v u="$3" -v c="$cores" \
		'BEGIN { need = r * u / 1e6; printf "%.0f%% of its %d cores%s\n", 100 * need / c, c, (need > c ? ": CANNOT BE MET HERE" : "") }')"
}

# sum_us A B: A + B, or "" when either is missing.
sum_us() { [ -n "$1" ] && [ -n "$2" ] && calc "$1 + $2" || true; }

budget_section() {
	local memq rmq raw disp
	memq=$(bench_row BenchmarkIntakeSQLiteMemq); rmq=$(bench_row BenchmarkIntakeRabbitMQ)
	raw=$(bench_row BenchmarkPublishRaw/publishers=8/channels=1); disp=$(bench_row BenchmarkDispatch/runners=10-nop)
	budget "intake SQLite+memq (process)" 10000 "$(metric "$memq" cpu-us/webhook)"
	budget "intake RabbitMQ (process + broker)" 8000 "$(sum_us "$(metric "$rmq" cpu-us/webhook)" "$(metric "$rmq" broker-cpu-us/webhook)")"
	budget "  of which the broker" 8000 "$(metric "$rmq" broker-cpu-us/webhook)"
	budget "broker alone, raw confirms (client + broker)" 8000 "$(sum_us "$(metric "$raw" cpu-us/msg)" "$(metric "$raw" broker-cpu-us/msg)")"
	budget "dispatch to 10 no-op runners (process)" 15000 "$(metric "$disp" cpu-us/job)"
	local logs note d
	for note in "" " (journaled ext4)"; do
		for logs in disk elsewhere; do
			d=$(metric "$(bench_row "BenchmarkRunnerdAccept/logs=$logs$note")" daemon-cpu-ms/job)
			budget "runnerd completions, logs=$logs${note:+, journaled ext4}" 2000 "${d:+$(calc "$d * 1000")}"
		done
	done
	printf '\n%-44s %-16s %-28s %s\n' "CPU budget of the throughput targets" "CPU per unit" "the target needs" "of this machine"
	printf '%s\n' "--------------------------------------------------------------------------------------------------------------"
	printf '%s\n' "${budget_rows[@]}"
}

# --- the SQLite floor: the store-bound targets beside the least a durable row costs here ------
# BenchmarkSQLiteFloor (internal/store/sqlite) is one writer inserting bare rows, 8 to a
# transaction: no SQLite store records a webhook or a job change faster on this machine. A
# figure's share of it is the work narwhal's store does per unit beyond a bare row (indexes,
# build number, publication mark); a target's share is what the store may spend to meet it.
floor_section() {
	local fl; fl=$(metric "$(bench_row BenchmarkSQLiteFloor)" rows/s)
	if [ -z "$fl" ]; then echo "SQLite floor: no figure"; return; fi
	printf '\n%-44s %-12s %-16s %s\n' "against the SQLite floor: $fl rows/s" "figure" "figure ÷ floor" "target ÷ floor"
	printf '%s\n' "--------------------------------------------------------------------------------------------"
	frow "intake SQLite+memq (webhooks/s)" "$(metric "$(bench_row BenchmarkIntakeSQLiteMemq)" webhooks/s)" 10000 "$fl"
	frow "dispatch to 10 no-op runners (jobs/s)" "$(metric "$(bench_row BenchmarkDispatch/runners=10-nop)" jobs/s)" 15000 "$fl"
}

# frow LABEL FIGURE TARGET FLOOR: one row of floor_section.
frow() {
	awk -v l="$1" -v f="$2" -v t="$3" -v fl="$4" 'BEGIN {
		printf "%-44s %-12s %-16s %.2f\n", l, (f == "" ? "no figure" : f), (f == "" ? "-" : sprintf("%.2f", f / fl)), t / fl }'
}

scale_section() {
	scale_curves
	cost_table
	lambda_size
	printf '\n%-46s %-30s %-18s %s\n' "issue 15: scale, cost, Lambda" "figure" "growth / target" "verdict"
	printf '%s\n' "--------------------------------------------------------------------------------------------------------------"
	printf '%s\n' "${scale_rows[@]}"
	echo "prices: us-east-1 on-demand list prices (internal/awscount.USEast1, docs/cost.md)"
	return "$scale_failed"
}
