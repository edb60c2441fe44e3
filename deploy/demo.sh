#!/usr/bin/env bash
# deploy/demo.sh — pggraph end to end on this machine, as root.
#
#   deploy/demo.sh start   (make demo)       start everything, print how to use it
#   deploy/demo.sh stop    (make demo-stop)  stop everything the demo started, by PID
#
# What it runs: a client PostgreSQL behind a database host's sshd and a
# bastion sshd limited by PermitOpen, and a central PostgreSQL (the test rig,
# on free loopback ports); pggraph-admin setup on the central server; two
# clients' config.ini files (acme: twin tunnel through the bastion; beta:
# direct tunnel to the database host); a few collections of both with a
# small workload in between; pggraph-forward holding acme's tunnel open,
# proved with a real psql query. State lives in $DEMO_DIR.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${DEMO_DIR:-/run/pggraph-demo}

die() { echo "demo: $*" >&2; exit 1; }
running() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# wait_for FILE PATTERN PID SECONDS: until FILE has PATTERN, PID dies, or time is up.
wait_for() {
	local file=$1 pattern=$2 pid=$3 secs=$4 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		running "$pid" || { cat "$file" >&2; die "process $pid ended before: $pattern"; }
		sleep 0.1
	done
	cat "$file" >&2
	die "no '$pattern' after ${secs}s"
}

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		[[ -z $(ss -Htln "sport = :$p") ]] && { echo "$p"; return; }
	done
}

# client NAME DIR MODE: write a config.ini (mode 0600) for the rig's PostgreSQL.
client() {
	local name=$1 dir=$2 mode=$3 server port twin second
	mkdir -p "$dir"
	case $mode in
	twin) server=127.0.0.1 port=$RIG_BASTION_PORT twin=yes second=127.0.0.1:$RIG_DBHOST_PORT ;;
	direct) server=127.0.0.1 port=$RIG_DBHOST_PORT twin=no second= ;;
	esac
	(umask 077 && cat >"$dir/config.ini") <<INI
[install]
directory = $dir
www_path  = pggraph/$name
title     = ${name^^} demo client

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
interval   = 10
max_images = 10
delay      = 7

[ssh]
user          = $RIG_USER
password      =
keyfile       = $RIG_KEY
server        = $server
port          = $port
bind_port     = $RIG_PG_PORT
bind_address  = 127.0.0.1
twin_tunnel   = $twin
second_server = $second
known_hosts   = $RIG_KNOWN_HOSTS
INI
}

start() {
	if [[ -f $state/rig.pid ]] && running "$(cat "$state/rig.pid")"; then
		die "already running (state in $state); run 'make demo-stop' first"
	fi
	rm -rf "$state"
	install -d -m 0755 "$state"
	install -d -m 0700 "$state/clients"
	cd "$root"
	make -s build

	echo "demo: starting PostgreSQL, a bastion sshd and a database-host sshd on loopback…"
	deploy/rig up --central --base "$state/rigs" >"$state/rig.env" 2>"$state/rig.log" &
	echo $! >"$state/rig.pid"
	wait_for "$state/rig.log" "rig ready" "$!" 120
	# shellcheck disable=SC1091
	. "$state/rig.env"

	echo "demo: pggraph-admin setup on the central PostgreSQL…"
	(umask 077 && echo "127.0.0.1:$RIG_CENTRAL_PORT:*:postgres:$RIG_CENTRAL_SUPERPASSWORD" >"$state/central.pgpass")
	export PGHOST=127.0.0.1 PGPORT=$RIG_CENTRAL_PORT PGUSER=postgres PGPASSFILE=$state/central.pgpass
	bin/pggraph-admin setup | sed 's/^/  /'
	central_pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
	psql -X -q -d postgres <<<"ALTER ROLE pggraph PASSWORD '$central_pw'"

	client acme "$state/clients/acme" twin
	client beta "$state/clients/beta" direct

	echo "demo: a small workload on the client's server, collected three times…"
	(umask 077 && echo "127.0.0.1:$RIG_PG_PORT:*:postgres:$RIG_PG_SUPERPASSWORD" >"$state/client.pgpass")
	remote() { PGPASSFILE=$state/client.pgpass psql -X -q -h 127.0.0.1 -p "$RIG_PG_PORT" -U postgres "$@"; }
	remote -d postgres -c "CREATE DATABASE shop"
	remote -d shop -c "CREATE TABLE orders (id serial PRIMARY KEY, amount numeric, at timestamptz DEFAULT now())"
	for round in 1 2 3; do
		bin/pggraph-collect -v -all "$state/clients" 2>&1 | grep -v -e '^time=' -e '^pggraph-collect: 2 of 2' | sed 's/^/  /'
		remote -d shop -c "INSERT INTO orders (amount) SELECT random() * 100 FROM generate_series(1, $((round * 1000)))" \
			-c "UPDATE orders SET amount = amount + 1 WHERE id % 7 = 0" -c "SELECT count(*) FROM orders" >/dev/null
		sleep 2
	done
	echo "demo: the clients as pggraph-admin sees them:"
	bin/pggraph-admin client list | sed 's/^/  /'

	echo "demo: pggraph-forward $state/clients/acme (twin tunnel through the bastion)…"
	# The port is chosen just before binding; another program may still take
	# it first, so a taken port gets a new one.
	local try
	for try in 1 2 3 4 5; do
		sed -i "s/^local_port = .*/local_port = $(free_port)/" "$state/clients/acme/config.ini"
		bin/pggraph-forward "$state/clients/acme" >"$state/forward-acme.log" 2>&1 &
		echo $! >"$state/forward.pid"
		for _ in $(seq 300); do
			grep -q -e "Press Ctrl-C" -e "already in use" "$state/forward-acme.log" && break
			running "$!" || break
			sleep 0.1
		done
		grep -q "already in use" "$state/forward-acme.log" || break
	done
	wait_for "$state/forward-acme.log" "Press Ctrl-C" "$(cat "$state/forward.pid")" 30

	local port
	port=$(sed -n 's/^local_port = //p' "$state/clients/acme/config.ini")
	(umask 077 && echo "localhost:$port:*:$RIG_PG_MONITOR_USER:$RIG_PG_MONITOR_PASSWORD" >"$state/pgpass")
	echo "demo: a psql query through the tunnel:"
	PGPASSFILE=$state/pgpass psql -X -d template1 -U "$RIG_PG_MONITOR_USER" -h localhost -p "$port" \
		-c "SELECT current_user, inet_server_port() AS server_port, version()"

	cat <<MSG

demo: ready.
  pggraph-forward output:  $state/forward-acme.log
$(sed 's/^/    /' "$state/forward-acme.log")
  try it:     PGPASSFILE=$state/pgpass psql -d template1 -U $RIG_PG_MONITOR_USER -h localhost -p $port
  clients:    $state/clients/acme/config.ini (twin tunnel), $state/clients/beta/config.ini (direct)
              bin/pggraph-forward $state/clients/beta   # the direct one, by hand
  collect:    bin/pggraph-collect -v -all $state/clients   # as cron would, every 10 minutes
  samples:    PGPASSFILE=$state/central.pgpass psql -h 127.0.0.1 -p $RIG_CENTRAL_PORT -U postgres pggraph -c '\dt acme_*' 
  sshd logs:  $RIG_BASTION_LOG (bastion), $RIG_DBHOST_LOG (db host)
  stop:       make demo-stop
MSG
}

stop() {
	local pid
	if [[ -f $state/forward.pid ]]; then
		pid=$(cat "$state/forward.pid")
		running "$pid" && kill -TERM "$pid" && echo "demo: stopped pggraph-forward ($pid)"
	fi
	if [[ -f $state/rig.pid ]]; then
		pid=$(cat "$state/rig.pid")
		if running "$pid"; then
			kill -TERM "$pid"
			for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
			echo "demo: stopped the rig ($pid)"
		fi
	fi
	if [[ -f $state/rig.env ]]; then
		dir=$(sed -n "s/^RIG_DIR='\(.*\)'$/\1/p" "$state/rig.env")
		[[ -n $dir && -d $dir ]] && "$root/deploy/rig" down "$dir"
	fi
	rm -rf "$state"
	echo "demo: stopped; nothing left running"
}

case ${1:-} in
start) start ;;
stop) stop ;;
*) echo "usage: deploy/demo.sh start|stop" >&2; exit 2 ;;
esac
