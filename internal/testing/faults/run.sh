#!/usr/bin/env bash
# internal/testing/faults/run.sh — `make test-hard`: the fault, bad-input and load suite, then
# each fuzz target for a bounded time, then one table of figures.
#
#   internal/testing/faults/run.sh                      # as make test-hard runs it
#   FUZZ_SCALE=5 internal/testing/faults/run.sh         # fuzz five times as many inputs
#   PGGRAPH_HARD_SEED=42 internal/testing/faults/run.sh # repeat the random fault points of a run
#   PGGRAPH_HARD_TRIES=5 internal/testing/faults/run.sh # fewer tries per fault
#
# Needs root and the Debian packages of `make deps` (the suite starts its
# own PostgreSQL, sshd and Apache on free loopback ports and stops them).
# Exit codes: 0 every test and fuzz target passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/../../.."

GO=${GO:-go}
# package:target:inputs — config.ini parsing and writing, the CGI's query
# parsing (through its handler), the htpasswd import. Each target runs a
# count budget (-fuzztime=Nx), about 20 s of work on 2 cores: a duration
# budget can end with a spurious "context deadline exceeded" and no crasher
# (golang/go#75804), failing a run that found nothing. FUZZ_SCALE
# multiplies every budget.
FUZZ_SCALE=${FUZZ_SCALE:-1}
FUZZ_TARGETS=(
	internal/config:FuzzParse:400000
	internal/config:FuzzWrite:100000
	cgi-bin:FuzzHandler:100000
	cmd/pggraph-admin:FuzzParseHtpasswd:150000
)

out=$(mktemp -d /tmp/pggraph-hard.XXXXXX)
figures=$out/figures.tsv
: >"$figures"
start=$(date +%s)
status=0

echo "== go vet -tags hard"
$GO vet -tags hard ./internal/testing/faults/ ./internal/testing/rig/ || status=1

echo "== go test -tags hard ./internal/testing/faults/ (faults, resets, deadlines, security, load)"
PGGRAPH_HARD_FIGURES=$figures $GO test -tags hard -count=1 -timeout 15m ./internal/testing/faults/ 2>&1 | tee "$out/hard.log"
[[ ${PIPESTATUS[0]} == 0 ]] || status=1
grep -E '^[[:space:]]*--- FAIL|^FAIL:' "$out/hard.log" >"$out/failed.txt" || true

for t in "${FUZZ_TARGETS[@]}"; do
	IFS=: read -r pkg name inputs <<<"$t"
	budget=$((inputs * FUZZ_SCALE))x
	echo "== go test -fuzz ^$name\$ -fuzztime $budget ./$pkg"
	log=$out/fuzz-$name.log
	seeds=$(find "$pkg/testdata/fuzz/$name" -type f 2>/dev/null | wc -l)
	if $GO test -run '^$' -fuzz "^$name\$" -fuzztime "$budget" "./$pkg" >"$log" 2>&1; then
		ok=1
	else
		ok=0
		status=1
		cat "$log"
	fi
	# "fuzz: elapsed: 20s, execs: 563244 (28155/sec), new interesting: …"
	last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	secs=$(sed -nE 's/^fuzz: elapsed: ([0-9]+)s.*/\1/p' <<<"$last")
	execs=${execs:-0}
	rate=$((execs / (${secs:-1} > 0 ? ${secs:-1} : 1)))
	tail -n 3 "$log"
	if ((ok)); then
		printf 'fuzz\t%s (%s)\t%s\t%s\t0\t%s, %s execs/s, %s committed seeds; no panic, every invariant held\n' \
			"$name" "$pkg" "$execs" "$execs" "${secs:-0}s" "$rate" "$seeds" >>"$figures"
	else
		printf 'fuzz\t%s (%s)\t%s\t0\t1\tfailed: see the crasher under %s/testdata/fuzz/%s\n' \
			"$name" "$pkg" "$execs" "$pkg" "$name" >>"$figures"
	fi
done

took=$(($(date +%s) - start))
echo
echo "== pggraph reliability figures (test-hard, $(date -u +%Y-%m-%d), $((took / 60))m$((took % 60))s)"
echo
echo "| area | fault or input | tries | survived | failures | notes |"
echo "| --- | --- | ---: | ---: | ---: | --- |"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6; t += $3; f += $5 }
	END { printf "| **total** | | **%d** | | **%d** | |\n", t, f }' "$figures"
echo
if [[ -s $out/failed.txt ]]; then
	echo "failed tests:"
	cat "$out/failed.txt"
fi
echo "test-hard: $( ((status == 0)) && echo PASS || echo FAIL ) in ${took}s; logs in $out"
exit "$status"
