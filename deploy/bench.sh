#!/usr/bin/env bash
# deploy/bench.sh — every benchmark of pggraph, several runs each, then one
# table of medians with baselines, ratios and targets (make bench). As
# root: the benchmarks start their own PostgreSQL, sshd, Apache and
# Chromium on free loopback ports (the test rig) and stop them.
#
#   deploy/bench.sh
#
# Each package runs with as many runs (-count) and iterations (-benchtime)
# as its benchmarks need for a stable median: benchmarks that take a median
# over their own iterations run once with many iterations, the others
# several times. The raw `go test -bench` output and the table are kept in
# $BENCH_DIR (default: a new /tmp/pggraph-bench.* directory); the table
# comes from internal/testing/benchtable/cmd/benchtable. It takes 6 to 8 minutes
# on 2 cores. Other work on the machine skews the figures: run it on an
# otherwise idle machine.
#
# Exit codes: 0 every benchmark ran (targets met or not: the table says);
# 1 a benchmark failed or a row has no result.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${BENCH_DIR:-$(mktemp -d /tmp/pggraph-bench.XXXXXX)}
mkdir -p "$dir"
raw=$dir/bench.txt
: >"$raw"
cd "$root" || exit 1
GO=${GO:-go}

# The runs: package, -bench pattern, -benchtime, -count, what it measures.
runs=(
	"./tunnel/;.;1s;5;opening tunnels, queries through them"
	"./internal/store/;Write|Maintain|State|SnapshotCodec;3x;3;writing samples, rollups, snapshots"
	"./internal/store/;Rebuild;1x;3;rebuilding 35 days of rollups"
	"./cmd/pggraph-collect/;^BenchmarkCollect\$;1x;5;one collection ÷ psql through ssh -L"
	"./cmd/pggraph-collect/;^BenchmarkAlertCost\$;1x;5;alert evaluation ÷ the same collection"
	"./cmd/pggraph-collect/;^BenchmarkCollectAll\$;3x;1;-all over 100 clients (median of 3 inside)"
	"./cmd/pggraph-collect/;^BenchmarkStorage\$;1x;1;storage per client-year"
	"./cmd/pggraph-collect/;^BenchmarkCollectStatements\$;3x;3;5,000 statements: queries = yes − no (median of 3 inside)"
	"./graph/;.;20x;1;images: the CGI and rrdtool, events and the previous period (medians of 20 inside)"
	"./cgi-bin/;^Benchmark(QueriesPage|StatementStorage)\$;20x;1;the queries page over a month (median of 20 inside), statement storage"
	"./cgi-bin/;InChromium;2x;5;the overview and a tables page in Chromium, after a login"
	"./cgi-bin/;ApacheAB;1x;3;ab through Apache: a session, Basic auth"
	"./cgi-bin/;^BenchmarkClientsPage\$;20x;3;the all-clients page over 1,000 clients (median of 20 inside)"
)

failed=()
SECONDS=0
i=0
for spec in "${runs[@]}"; do
	i=$((i + 1))
	IFS=';' read -r pkg pattern benchtime count what <<<"$spec"
	printf 'bench %d/%d (%dm%02ds): %s — go test -bench %q -benchtime %s -count %s %s\n' \
		"$i" "${#runs[@]}" $((SECONDS / 60)) $((SECONDS % 60)) "$what" "$pattern" "$benchtime" "$count" "$pkg"
	if ! "$GO" test -run '^$' -bench "$pattern" -benchtime "$benchtime" -count "$count" -timeout 30m "$pkg" 2>&1 |
		tee -a "$raw" | grep --line-buffered -E '^(Benchmark|--- FAIL|FAIL|panic)' | sed -u 's/^/  /'; then
		failed+=("$pkg -bench $pattern")
	fi
done
echo "bench: all runs done in $((SECONDS / 60))m$((SECONDS % 60))s; raw output in $raw"
echo
"$GO" run ./internal/testing/benchtable/cmd/benchtable "$raw" | tee "$dir/table.md"
status=${PIPESTATUS[0]}
echo "(table also in $dir/table.md)"
if ((${#failed[@]} > 0)); then
	printf 'bench: failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
exit "$status"
