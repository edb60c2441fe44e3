#!/usr/bin/env bash
# hard/run.sh — `make test-hard`: the fault, bad-input and load suite, then
# each fuzz target for a bounded time, then one table of figures.
#
#   hard/run.sh                      # as make test-hard runs it
#   FUZZTIME=1m hard/run.sh          # fuzz longer
#   PGGRAPH_HARD_SEED=42 hard/run.sh # repeat the random fault points of a run
#   PGGRAPH_HARD_TRIES=5 hard/run.sh # fewer tries per fault
#
# Needs root and the Debian packages of `make deps` (the suite starts its
# own PostgreSQL, sshd and Apache on free loopback ports and stops them).
# Exit codes: 0 every test and fuzz target passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
# package:target — config.ini parsing and writing, the CGI's query parsing
# (through its handler), the htpasswd import.
FUZZ_TARGETS=(
	internal/config:FuzzParse
	internal/config:FuzzWrite
	cgi-bin:FuzzHandler
	cmd/pggraph-admin:FuzzParseHtpasswd
)

out=$(mktemp -d /tmp/pggraph-hard.XXXXXX)
figures=$out/figures.tsv
: >"$figures"
start=$(date +%s)
status=0

echo "== go vet -tags hard"
$GO vet -tags hard ./hard/ ./internal/rig/ || status=1

echo "== go test -tags hard ./hard/ (faults, resets, deadlines, security, load)"
PGGRAPH_HARD_FIGURES=$figures $GO test -tags hard -count=1 -timeout 15m ./hard/ 2>&1 | tee "$out/hard.log"
[[ ${PIPESTATUS[0]} == 0 ]] || status=1
grep -E '^[[:space:]]*--- FAIL|^FAIL:' "$out/hard.log" >"$out/failed.txt" || true

for t in "${FUZZ_TARGETS[@]}"; do
	pkg=${t%%:*}
	name=${t##*:}
	echo "== go test -fuzz ^$name\$ -fuzztime $FUZZTIME ./$pkg"
	log=$out/fuzz-$name.log
	seeds=$(find "$pkg/testdata/fuzz/$name" -type f 2>/dev/null | wc -l)
	if $GO test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" "./$pkg" >"$log" 2>&1; then
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
			"$name" "$pkg" "$execs" "$execs" "$FUZZTIME" "$rate" "$seeds" >>"$figures"
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
