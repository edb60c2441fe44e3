#!/usr/bin/env bash
# deploy/demo.sh — pggraph end to end on this machine, as root.
#
#   deploy/demo.sh start   (make demo)       start everything, print how to use it
#   deploy/demo.sh stop    (make demo-stop)  stop everything the demo started, by PID
#
# What start does, on free loopback ports (state in $DEMO_DIR, default
# /run/pggraph-demo):
#   1. the test rig (deploy/rig up --central): a client PostgreSQL behind
#      a database host's sshd and a bastion sshd limited by PermitOpen, a
#      central PostgreSQL, and Apache running deploy/apache/pggraph.conf
#      over the web root $DEMO_DIR/www;
#   2. pggraph-admin setup on the central server;
#   3. on the client's server: databases shop (pgbench -i, with
#      pg_stat_statements), crm and erp (150 generated tables each), a
#      pgbench workload in the background whose rate changes every 20 s,
#      and a session left idle in a transaction on shop (an alert);
#   4. pggraph-install -answers for two clients: acme (twin tunnel through
#      the bastion) and beta (direct tunnel to the database host), and a web
#      user for each with pggraph-admin user add;
#   5. $DEMO_ROUNDS collections of both clients, one every $DEMO_EVERY
#      seconds, with a setting changed and an extension created half-way
#      (events on the graphs), then one a minute in the background, as
#      cron would; alert mail goes to the local mailbox of user
#      pggraph-demo (exim4, /var/mail/pggraph-demo);
#   6. a headless-Chromium screenshot of each client's overview page, and a
#      check with curl that the page's images are PNGs;
#   7. pggraph-forward holding acme's tunnel open, proved with psql.
# Every process it starts is listed in $DEMO_DIR/pids ("name pid"); stop
# ends them by PID and then checks with ps that none is left. $DEMO_DIR must
# not sit under a group- or world-writable directory such as /tmp (sshd's
# StrictModes). DEMO_ROUNDS, DEMO_EVERY and DEMO_CRON_EVERY change the
# collections (defaults 10, 15 s and 60 s).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${DEMO_DIR:-/run/pggraph-demo}
state=${state%/}
rounds=${DEMO_ROUNDS:-10}
every=${DEMO_EVERY:-15}
cron_every=${DEMO_CRON_EVERY:-60}
pgbin=/usr/lib/postgresql/15/bin

die() { echo "demo: $*" >&2; exit 1; }
running() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
indent() { sed 's/^/    /'; }
elapsed() { printf '%dm%02ds' $((SECONDS / 60)) $((SECONDS % 60)); }

# note NAME PID: record a process the demo started, for stop.
note() { echo "$1 $2" >>"$state/pids"; }

# wait_for FILE PATTERN PID SECONDS: until FILE has PATTERN, PID dies, or time is up.
wait_for() {
	local file=$1 pattern=$2 pid=$3 secs=$4 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		running "$pid" || { tail -n 30 "$file" >&2; die "process $pid ended before: $pattern"; }
		sleep 0.1
	done
	tail -n 30 "$file" >&2
	die "no '$pattern' after ${secs}s"
}

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		[[ -z $(ss -Htln "sport = :$p") ]] && { echo "$p"; return; }
	done
}

secret() { head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9'; }

# remote DB ARGS…: psql as the superuser on the client's PostgreSQL.
remote() {
	local db=$1
	shift
	PGPASSFILE=$state/client.pgpass psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$RIG_PG_PORT" -U postgres -d "$db" "$@"
}

# answers NAME MODE: pggraph-install's answers file for one client (the
# installer's questions, as config.ini's sections and keys).
answers() {
	local name=$1 mode=$2 port twin second= title
	case $mode in
	twin) port=$RIG_BASTION_PORT twin=yes title="ACME Corporation (twin tunnel via the bastion)"
		second="second_server = 127.0.0.1:$RIG_DBHOST_PORT" ;;
	direct) port=$RIG_DBHOST_PORT twin=no title="Beta Ltd (direct tunnel)" ;;
	esac
	(umask 077 && cat >"$state/answers/$name.ini") <<INI
[install]
directory = $state/www/$name
www_path  = pggraph/$name
title     = $title

[local]
database = pggraph
prefix   = $name
port     = $RIG_CENTRAL_PORT
host     = 127.0.0.1
user     = pggraph
password = $central_pw

[remote]
user       = $RIG_PG_MONITOR_USER
password   = $RIG_PG_MONITOR_PASSWORD
host       = localhost
local_port = $(free_port)
databases  = *

[pggraph]
interval   = 1
max_images = 10
delay      = 7

[alerts]
mail                = pggraph-demo@localhost
idle_in_transaction = :60 :300

[ssh]
user          = $RIG_USER
password      =
keyfile       = $RIG_KEY
server        = 127.0.0.1
port          = $port
bind_port     = $RIG_PG_PORT
bind_address  = 127.0.0.1
twin_tunnel   = $twin
$second
INI
}

# install_client NAME MODE USER: pggraph-install -answers, then a web user.
install_client() {
	local name=$1 mode=$2 user=$3 pw
	answers "$name" "$mode"
	echo "demo: pggraph-install -answers $state/answers/$name.ini -cgi $state/www/_main/pggraph.cgi -yes"
	HOME=$state/home bin/pggraph-install -answers "$state/answers/$name.ini" -cgi "$state/www/_main/pggraph.cgi" -yes |
		grep -v -e '^$' | indent
	# The CGI runs as www-data and reads the 0600 config.ini.
	chown www-data:www-data "$state/www/$name" "$state/www/$name/config.ini"
	pw=$(secret)
	echo "demo: pggraph-admin user add -config $state/www/$name -stdin $name $user   (password on stdin)"
	printf '%s\n' "$pw" | bin/pggraph-admin user add -config "$state/www/$name" -stdin "$name" "$user" | indent
	printf '%s %s %s %s\n' "$name" "$mode" "$user" "$pw" >>"$state/logins"
}

# check_pages NAME USER PASSWORD: the overview page through Apache with
# curl, then every image on it: image/png, a PNG signature, an IEND chunk.
check_pages() {
	local name=$1 user=$2 pw=$3 dir=$state/check/$name page code n=0 src url out
	mkdir -p "$dir"
	page=$RIG_APACHE_URL/pggraph/$name/
	code=$(curl -sS -o "$dir/index.html" -w '%{http_code}' -u "$user:$pw" "$page")
	[[ $code == 200 ]] || die "GET $page as $user: HTTP $code"
	while read -r src; do
		src=${src//&amp;/\&}
		case $src in
		/*) url=$RIG_APACHE_URL$src ;;
		http*) url=$src ;;
		*) url=$page$src ;;
		esac
		n=$((n + 1))
		out=$dir/img$n.png
		code=$(curl -sS -o "$out" -w '%{http_code} %{content_type}' -u "$user:$pw" "$url")
		[[ $code == "200 image/png" ]] || die "GET $url: $code"
		[[ -s $out && $(head -c 8 "$out" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
			die "$url: not a PNG"
		[[ $(tail -c 8 "$out" | od -An -tx1 | tr -d ' \n') == 49454e44ae426082 ]] || die "$url: PNG without IEND (truncated)"
	done < <(grep -o '<img[^>]* src="[^"]*"' "$dir/index.html" | sed 's/.* src="//; s/"$//')
	((n > 0)) || die "$page has no <img>"
	echo "demo: curl $page as $user: 200, $n <img> tags, each a whole PNG ($(file -b "$dir/img1.png" | cut -d, -f2 | sed 's/^ //'), $(du -ch "$dir"/img*.png | tail -1 | cut -f1) in all)"
	code=$(curl -sS -o /dev/null -w '%{http_code}' "$page")
	[[ $code == 401 ]] || die "GET $page without a login: HTTP $code, want 401"
}

start() {
	((EUID == 0)) || die "run as root (it starts PostgreSQL, sshd and Apache)"
	if [[ -f $state/pids ]]; then
		local name pid
		while read -r name pid; do
			running "$pid" && die "already running ($name pid $pid; state in $state); run 'make demo-stop' first"
		done <"$state/pids"
	fi
	SECONDS=0
	rm -rf "$state"
	install -d -m 0755 "$state" "$state/bin"
	# The web root as README's step 1 lays it out.
	install -d -o root -g www-data -m 1775 "$state/www"
	install -d -m 0755 "$state/www/_main"
	install -d -m 0700 "$state/home" "$state/home/.ssh" "$state/answers"
	: >"$state/pids"
	trap 'failed' EXIT
	cd "$root"
	deploy/deps.sh curl file
	make -s build
	go build -o "$state/bin/pggraph-rig" ./internal/testing/rig/cmd/pggraph-rig
	install -m 0755 bin/pggraph.cgi "$state/www/_main/pggraph.cgi"
	install -o www-data -g www-data -m 0600 /dev/null "$state/web.pgpass"

	echo "demo: starting the rig: client and central PostgreSQL, a bastion and a db-host sshd, Apache…"
	deploy/rig up --central --base "$state/rigs" --apache-root "$state/www" --apache-pgpass "$state/web.pgpass" \
		--apache-fastcgi "$state/www/_main/pggraph.cgi" \
		>"$state/rig.env" 2>"$state/rig.log" &
	note rig $!
	wait_for "$state/rig.log" "rig ready" "$!" 180
	# shellcheck disable=SC1091
	. "$state/rig.env"
	echo "demo: rig up ($(elapsed)): client PostgreSQL :$RIG_PG_PORT, central :$RIG_CENTRAL_PORT, bastion sshd :$RIG_BASTION_PORT, db-host sshd :$RIG_DBHOST_PORT, Apache $RIG_APACHE_URL"

	echo "demo: pggraph-admin setup on the central PostgreSQL"
	(umask 077 && echo "127.0.0.1:$RIG_CENTRAL_PORT:*:postgres:$RIG_CENTRAL_SUPERPASSWORD" >"$state/central.pgpass")
	export PGHOST=127.0.0.1 PGPORT=$RIG_CENTRAL_PORT PGUSER=postgres PGPASSFILE=$state/central.pgpass
	bin/pggraph-admin setup | indent
	central_pw=$(secret)
	local web_pw
	web_pw=$(secret)
	psql -X -q -v ON_ERROR_STOP=1 -d postgres <<<"ALTER ROLE pggraph PASSWORD '$central_pw'; ALTER ROLE pggraph_web PASSWORD '$web_pw'"
	echo "127.0.0.1:$RIG_CENTRAL_PORT:*:pggraph_web:$web_pw" >"$state/web.pgpass"

	echo "demo: the client's databases: shop (pgbench -i), crm and erp (150 tables each)"
	(umask 077 && echo "127.0.0.1:$RIG_PG_PORT:*:postgres:$RIG_PG_SUPERPASSWORD" >"$state/client.pgpass")
	remote postgres -c "CREATE DATABASE shop" -c "CREATE DATABASE crm" -c "CREATE DATABASE erp"
	remote shop -c "CREATE EXTENSION pg_stat_statements"
	PGPASSFILE=$state/client.pgpass "$pgbin/pgbench" -i -q -s 2 -h 127.0.0.1 -p "$RIG_PG_PORT" -U postgres shop 2>&1 |
		tail -n 1 | indent
	local db
	for db in crm erp; do
		remote "$db" <<'SQL'
DO $$
BEGIN
	FOR i IN 1..150 LOOP
		EXECUTE format('CREATE TABLE t_%s (id serial PRIMARY KEY, name text, amount numeric, updated timestamptz DEFAULT now())', i);
		EXECUTE format('INSERT INTO t_%s (name, amount) SELECT ''row '' || g, g FROM generate_series(1, %s) g', i, 20 * i);
		IF i % 3 = 0 THEN
			EXECUTE format('CREATE INDEX ON t_%s (updated)', i);
		END IF;
	END LOOP;
END $$;
-- demo_touch(n): the workload's step on table t_<n>.
CREATE FUNCTION demo_touch(n int) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
	EXECUTE format('UPDATE t_%s SET amount = amount + 1, updated = now() WHERE id = $1', n) USING 1 + (random() * 19)::int;
	EXECUTE format('INSERT INTO t_%s (name, amount) VALUES (''new'', 1)', n);
	IF random() < 0.2 THEN
		EXECUTE format('DELETE FROM t_%s WHERE id = (SELECT max(id) FROM t_%s)', n, n);
	END IF;
	IF random() < 0.05 THEN
		EXECUTE format('SELECT count(*) FROM t_%s', n);
	END IF;
END $f$;
VACUUM ANALYZE;
SQL
	done
	printf '%s\n' '\set t random_exponential(1, 150, 4)' 'SELECT demo_touch(:t);' >"$state/touch.sql"
	DEMO_PG_PORT=$RIG_PG_PORT setsid "$root/deploy/demo.sh" workload "$state/" >"$state/workload.log" 2>&1 </dev/null &
	note workload $!
	echo "demo: pgbench workload running in the background (pid $!; its rate changes every 20 s)"

	# Alert mail: a local user's mailbox on this host's MTA (exim4 delivers
	# local addresses only by default); exim delivers as that user, from
	# its home directory.
	id pggraph-demo >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin pggraph-demo
	install -d -o pggraph-demo -g pggraph-demo -m 0700 "$(getent passwd pggraph-demo | cut -d: -f6)"
	install -o pggraph-demo -g mail -m 0660 /dev/null /var/mail/pggraph-demo
	echo "demo: alert mail goes to pggraph-demo@localhost (/var/mail/pggraph-demo, emptied)"

	echo "demo: installing two clients with pggraph-install -answers ($(elapsed))"
	install_client acme twin alice
	install_client beta direct bob

	local from i t out
	from=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	echo "demo: collecting both clients $rounds times, every ${every}s (pggraph-collect -v -all $state/www)"
	for ((i = 1; i <= rounds; i++)); do
		t=$SECONDS
		if ! out=$(bin/pggraph-collect -v -all "$state/www" 2>>"$state/collect.log"); then
			tail -n 20 "$state/collect.log" >&2
			die "collection $i failed"
		fi
		echo "demo: collect $i/$rounds ($(elapsed)): $(paste -sd '|' <<<"$out" | sed 's/|/; /g')"
		if ((i == rounds / 2)); then
			remote postgres -c "ALTER SYSTEM SET work_mem = '16MB'" -c "SELECT pg_reload_conf()" >/dev/null
			remote crm -c "CREATE EXTENSION pg_trgm"
			echo "demo: on the client: work_mem 4MB → 16MB (ALTER SYSTEM, reload) and CREATE EXTENSION pg_trgm in crm: events on the graphs"
		fi
		((i == rounds)) || sleep $((every - (SECONDS - t) > 0 ? every - (SECONDS - t) : 0))
	done
	setsid "$root/deploy/demo.sh" collect-loop "$state/" >>"$state/collect.log" 2>&1 </dev/null &
	note collect $!
	echo "demo: from now on pggraph-collect runs every ${cron_every}s in the background, as cron would (pid $!)"

	echo "demo: the clients as pggraph-admin sees them:"
	bin/pggraph-admin client list | indent
	echo "demo: alerts not OK (pggraph-admin alerts):"
	bin/pggraph-admin alerts | indent
	echo "demo: mail delivered so far to pggraph-demo@localhost:"
	grep '^Subject: ' /var/mail/pggraph-demo | indent || echo "  (none yet)"

	local name mode user pw shot
	while read -r name mode user pw; do
		shot=$state/$name-overview.png
		"$state/bin/pggraph-rig" screenshot \
			"http://$user:$pw@127.0.0.1:$RIG_APACHE_PORT/pggraph/$name/?range=custom&from=$from" "$shot"
		echo "demo: screenshot of $name's overview (headless Chromium, as $user): $shot"
		check_pages "$name" "$user" "$pw"
	done <"$state/logins"
	# Each login sees its own client only (pggraph.conf's dbd-group).
	local other code
	other=$(tail -n 1 "$state/logins" | cut -d' ' -f1)
	read -r name mode user pw < <(head -n 1 "$state/logins")
	code=$(curl -sS -o /dev/null -w '%{http_code}' -u "$user:$pw" "$RIG_APACHE_URL/pggraph/$other/")
	[[ $code == 403 ]] || die "GET /pggraph/$other/ as $user ($name's login): HTTP $code, want 403"
	echo "demo: without a login the pages answer 401; $user ($name's login) on /pggraph/$other/ gets 403"

	echo "demo: pggraph-forward $state/www/acme (twin tunnel through the bastion)"
	# The port is chosen just before binding; another program may still take
	# it first, so a taken port gets a new one.
	local try pid=
	for try in 1 2 3 4 5; do
		sed -i "s/^local_port = .*/local_port = $(free_port)/" "$state/www/acme/config.ini"
		bin/pggraph-forward "$state/www/acme" >"$state/forward-acme.log" 2>&1 &
		pid=$!
		note forward "$pid"
		for _ in $(seq 300); do
			grep -q -e "Press Ctrl-C" -e "already in use" "$state/forward-acme.log" && break
			running "$pid" || break
			sleep 0.1
		done
		grep -q "already in use" "$state/forward-acme.log" || break
	done
	wait_for "$state/forward-acme.log" "Press Ctrl-C" "$pid" 30
	local port
	port=$(sed -n 's/^local_port = //p' "$state/www/acme/config.ini")
	(umask 077 && echo "localhost:$port:*:$RIG_PG_MONITOR_USER:$RIG_PG_MONITOR_PASSWORD" >"$state/pgpass")
	echo "demo: a psql query through the tunnel:"
	PGPASSFILE=$state/pgpass psql -X -d template1 -U "$RIG_PG_MONITOR_USER" -h localhost -p "$port" \
		-c "SELECT current_user, inet_server_port() AS server_port, version()" | indent

	trap - EXIT
	echo
	echo "demo: ready in $(elapsed)."
	while read -r name mode user pw; do
		printf '  %-11s %s/pggraph/%s/   login %s / %s   (%s tunnel)\n' "$name:" "$RIG_APACHE_URL" "$name" "$user" "$pw" "$mode"
	done <"$state/logins"
	cat <<MSG
  the demo's minutes only (the pages show the last day by default):
              $RIG_APACHE_URL/pggraph/acme/?range=custom&from=$from
  screenshots: $state/acme-overview.png
              $state/beta-overview.png
  queries:    $RIG_APACHE_URL/pggraph/acme/?page=queries&db=shop
  events:     $RIG_APACHE_URL/pggraph/acme/?page=events  (compare: add &compare=previous to a page)
  alerts:     $RIG_APACHE_URL/pggraph/acme/?page=alerts  mail: /var/mail/pggraph-demo
  workload:   pgbench on shop, crm and erp, a session idle in a transaction on shop (log $state/workload.log)
  collecting: every ${cron_every}s in the background (log $state/collect.log), or by hand:
              bin/pggraph-collect -v -all $state/www
  pggraph-forward holds acme's tunnel open:
$(sed 's/^/    /' "$state/forward-acme.log")
  try it:     PGPASSFILE=$state/pgpass psql -d template1 -U $RIG_PG_MONITOR_USER -h localhost -p $port
  clients:    $state/www/acme/config.ini (twin tunnel), $state/www/beta/config.ini (direct)
  samples:    PGPASSFILE=$state/central.pgpass psql -h 127.0.0.1 -p $RIG_CENTRAL_PORT -U postgres pggraph -c '\\dt acme_*'
  logs:       $RIG_APACHE_ERROR_LOG (Apache), $RIG_APACHE_FASTCGI_LOG (the pages' FastCGI server)
              $RIG_BASTION_LOG (bastion), $RIG_DBHOST_LOG (db host)
  stop:       make demo-stop
MSG
}

# failed runs when start ends early: stop what it started, keep the logs.
failed() {
	echo "demo: failed after $(elapsed); stopping what it started (logs stay in $state; make demo-stop removes them)" >&2
	stop_processes >&2 || true
}

# workload runs pgbench on the client's databases until killed: a
# TPC-B-like load on shop and demo_touch on crm and erp, at a rate that
# changes every 20 seconds so that the graphs have shape.
workload() {
	export PGPASSFILE=$state/client.pgpass
	local common=(-n -h 127.0.0.1 -p "$DEMO_PG_PORT" -U postgres -T 20) rate
	# A session idle in a transaction, as a forgotten BEGIN leaves one:
	# the idle_in_transaction alert (WARNING past a minute, CRITICAL past
	# five). psql waits on its input, which never ends.
	(printf 'BEGIN;\nSELECT txid_current();\n'; exec sleep infinity) |
		psql -X -q -o /dev/null -h 127.0.0.1 -p "$DEMO_PG_PORT" -U postgres -d shop &
	while :; do
		for rate in 5 15 40 15; do
			# Wait for these three, not for the idle session.
			local runs=()
			"$pgbin/pgbench" "${common[@]}" -c 2 -j 1 -R "$rate" shop &
			runs+=($!)
			"$pgbin/pgbench" "${common[@]}" -c 1 -R $((rate * 3)) -f "$state/touch.sql" crm &
			runs+=($!)
			"$pgbin/pgbench" "${common[@]}" -c 1 -R "$rate" -f "$state/touch.sql" erp &
			runs+=($!)
			wait "${runs[@]}"
		done
	done
}

# collect_loop collects every client every $cron_every seconds until killed.
collect_loop() {
	cd "$root"
	while :; do
		sleep "$cron_every"
		if bin/pggraph-collect -q -all "$state/www"; then
			echo "$(date -u +%FT%TZ) pggraph-collect -all: every client collected"
		fi
	done
}

# stop_processes stops every process in $state/pids, newest first: process
# groups (the loops and their children) and single processes by PID,
# SIGTERM then SIGKILL after 20 s.
stop_processes() {
	[[ -f $state/pids ]] || return 0
	local name pid i target
	while read -r name pid; do
		target=$pid
		if [[ $name == workload || $name == collect ]]; then
			# The loop leads its process group: stop the group, pgbench
			# and pggraph-collect included, even when the loop is gone.
			target=-$pid
		elif ! tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$state/"; then
			continue # gone, or the PID is no longer ours
		fi
		kill -TERM -- "$target" 2>/dev/null || continue
		for ((i = 0; i < 200; i++)); do
			running "$pid" || break
			sleep 0.1
		done
		if running "$pid"; then
			echo "demo: $name ($pid) ignored SIGTERM; killing it"
			kill -KILL -- "$target" 2>/dev/null || true
		fi
		[[ $name == workload || $name == collect ]] && kill -KILL -- "$target" 2>/dev/null || true
		echo "demo: stopped $name ($pid)"
	done < <(tac "$state/pids")
}

# leftovers prints "pid args" of every process that still refers to the
# demo's directory, in its command line or its environment (Apache and
# the CGIs have it only there), other than this script and its parents.
leftovers() {
	local self=" $$ " p=$$ pid args snapshot
	while [[ $p -gt 1 ]]; do
		p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
		self+="$p "
	done
	snapshot=$(ps -eo pid=,args=)
	while read -r pid args; do
		[[ $self == *" $pid "* || $pid == "$BASHPID" ]] && continue
		if [[ $args == *"$state/"* ]] || tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qF -- "$state/"; then
			echo "$pid $args"
		fi
	done <<<"$snapshot"
}

stop() {
	if [[ ! -d $state ]]; then
		echo "demo: nothing to stop ($state does not exist)"
		return 0
	fi
	stop_processes
	if [[ -f $state/rig.env ]]; then
		local dir
		dir=$(sed -n "s/^RIG_DIR='\(.*\)'$/\1/p" "$state/rig.env")
		[[ -n $dir && -d $dir ]] && "$root/deploy/rig" down "$dir"
	fi
	local left
	left=$(leftovers)
	if [[ -n $left ]]; then
		echo "demo: still running after stop (state kept in $state):" >&2
		echo "$left" >&2
		exit 1
	fi
	rm -rf "$state"
	echo "demo: stopped; ps shows no process of the demo left"
}

case ${1:-} in
start) start ;;
stop) stop ;;
workload) state=${2%/} && workload ;;
collect-loop) state=${2%/} && collect_loop ;;
*) echo "usage: deploy/demo.sh start|stop" >&2; exit 2 ;;
esac
