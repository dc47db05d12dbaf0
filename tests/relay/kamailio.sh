#!/usr/bin/env bash
# Start, stop or query a real MSRP relay (RFC 4976): Kamailio's msrp module,
# configured from kamailio-msrp.cfg.in beside this script. No systemd, no
# port 5060, loopback only.
#
#   kamailio.sh start  [--rundir DIR] [--tcp-port N] [--tls-port N]
#                      [--user U] [--password P] [--realm R] [--watch-pid PID]
#                      [--min-expires SECONDS] [--ws-port N] [--wss-port N]
#                      [--cert FILE --key FILE]
#   kamailio.sh stop   [--rundir DIR] [--fast]
#   kamailio.sh status [--rundir DIR]
#
# The same settings can come from the environment: RELAY_RUNDIR,
# RELAY_TCP_PORT, RELAY_TLS_PORT, RELAY_USER, RELAY_PASSWORD, RELAY_REALM,
# RELAY_WATCH_PID, RELAY_MIN_EXPIRES (the shortest registration granted,
# default 60; tests of expiry lower it), RELAY_WS_PORT, RELAY_WSS_PORT,
# RELAY_CERT, RELAY_KEY.
# --ws-port / --wss-port add MSRP over WebSocket (RFC 7977, Kamailio's
# websocket module, package kamailio-websocket-modules): a ws listener on
# plain TCP, a wss one on TLS; 0 picks a free port; unset, no WebSocket.
# --cert / --key: the relay's TLS certificate and key (PEM) instead of the
# one the script makes (e.g. an `openssl req -x509` certificate).
# With a watch pid (say, the test process), a detached
# watcher stops the relay within about a second of that process's death,
# so a test killed before its cleanup leaves no relay behind.
# Options win over the environment. Without a run dir, `start` makes a
# temporary one (and prints it); `stop` and `status` need it.
# TCP and TLS ports left unset (or 0) are picked free on 127.0.0.1.
#
# `start` prints KEY=VALUE lines on stdout once every port accepts
# connections (and writes the same lines to RUNDIR/relay.env):
#   RUNDIR= TCP_PORT= TLS_PORT= TCP_URI= TLS_URI= CERT= KEY= USER=
#   PASSWORD= REALM= PID= LOG=
# and, with --ws-port / --wss-port, WS_PORT= WS_URI= WS_URL= /
# WSS_PORT= WSS_URI= WSS_URL= (the relay's MSRP URI over WebSocket, for an
# AUTH's To-Path, and the URL of the HTTP upgrade).
# Everything else goes to stderr. Exit 0 on success; on failure, exit 1
# after printing the tail of RUNDIR/kamailio.log to stderr.
#
# `stop` sends SIGTERM and waits (Kamailio takes about 2 s to shut down),
# then SIGKILLs the process group if needed; `stop --fast` SIGKILLs the
# group at once (nothing is persisted, so nothing is lost).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATE="$HERE/kamailio-msrp.cfg.in"
START_TIMEOUT=${RELAY_START_TIMEOUT:-10}   # seconds
STOP_TIMEOUT=${RELAY_STOP_TIMEOUT:-5}      # seconds

die() { echo "kamailio.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 1 ] || usage
CMD=$1; shift

RUNDIR=${RELAY_RUNDIR:-}
TCP_PORT=${RELAY_TCP_PORT:-0}
TLS_PORT=${RELAY_TLS_PORT:-0}
RUSER=${RELAY_USER:-alice}
PASSWORD=${RELAY_PASSWORD:-secret}
REALM=${RELAY_REALM:-relay.test}
WATCH_PID=${RELAY_WATCH_PID:-}
MIN_EXPIRES=${RELAY_MIN_EXPIRES:-60}
WS_PORT=${RELAY_WS_PORT:-}
WSS_PORT=${RELAY_WSS_PORT:-}
GIVEN_CERT=${RELAY_CERT:-}
GIVEN_KEY=${RELAY_KEY:-}
FAST=0

while [ $# -gt 0 ]; do
	case $1 in
	--rundir) RUNDIR=$2; shift 2 ;;
	--tcp-port) TCP_PORT=$2; shift 2 ;;
	--tls-port) TLS_PORT=$2; shift 2 ;;
	--user) RUSER=$2; shift 2 ;;
	--password) PASSWORD=$2; shift 2 ;;
	--realm) REALM=$2; shift 2 ;;
	--watch-pid) WATCH_PID=$2; shift 2 ;;
	--min-expires) MIN_EXPIRES=$2; shift 2 ;;
	--ws-port) WS_PORT=$2; shift 2 ;;
	--wss-port) WSS_PORT=$2; shift 2 ;;
	--cert) GIVEN_CERT=$2; shift 2 ;;
	--key) GIVEN_KEY=$2; shift 2 ;;
	--fast) FAST=1; shift ;;
	-h|--help) usage ;;
	*) die "unknown argument: $1" ;;
	esac
done

find_kamailio() {
	local k
	for k in "$(command -v kamailio 2>/dev/null || true)" /usr/sbin/kamailio /usr/local/sbin/kamailio; do
		[ -n "$k" ] && [ -x "$k" ] && { echo "$k"; return 0; }
	done
	return 1
}

# A free TCP port on 127.0.0.1 (bound once and released).
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
s.close()
EOF
}

# Alive and not a zombie (an orphaned kamailio may wait a while for init
# to reap it).
pid_alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# Kamailio writes kamailio.pid itself (-P); launcher.pid is the pid that
# this script started, in case kamailio died before writing its own.
read_pid() {
	local f
	for f in "$RUNDIR/kamailio.pid" "$RUNDIR/launcher.pid"; do
		if [ -s "$f" ]; then tr -dc '0-9' <"$f"; return 0; fi
	done
	return 0
}

log_tail() {
	if [ -f "$RUNDIR/kamailio.log" ]; then
		echo "---- last lines of $RUNDIR/kamailio.log ----" >&2
		tail -n 40 "$RUNDIR/kamailio.log" >&2
		echo "----" >&2
	fi
}

check_token() { # name value: keep the values sed- and cfg-safe
	case $2 in
	''|*[!A-Za-z0-9._~+=-]*) die "$1 must be non-empty and use only [A-Za-z0-9._~+=-]: '$2'" ;;
	esac
}

# Stop the relay (pid $1) once $WATCH_PID is gone. Detached, with every
# descriptor closed, so that callers reading our stdout see EOF at once.
start_watcher() {
	case $WATCH_PID in ''|*[!0-9]*) die "--watch-pid needs a pid: '$WATCH_PID'" ;; esac
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
		if kill -0 "$2" 2>/dev/null; then exec "$3" stop --rundir "$4"; fi
	' watcher "$WATCH_PID" "$1" "$HERE/kamailio.sh" "$RUNDIR" \
		</dev/null >>"$RUNDIR/watcher.log" 2>&1 &
	echo $! >"$RUNDIR/watcher.pid"
}

do_stop() {
	[ -n "$RUNDIR" ] || die "stop: no run dir (--rundir or RELAY_RUNDIR)"
	local pid; pid=$(read_pid)
	if ! pid_alive "$pid"; then
		echo "kamailio.sh: not running" >&2
		rm -f "$RUNDIR/kamailio.pid" "$RUNDIR/launcher.pid"
		return 0
	fi
	if [ "$FAST" = 1 ]; then
		# The main process leads its own process group (setsid at start).
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	else
		# The main process takes its children down on SIGTERM.
		kill -TERM "$pid" 2>/dev/null || true
	fi
	local i=0
	while pid_alive "$pid" && [ $i -lt $((STOP_TIMEOUT * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	if pid_alive "$pid"; then
		echo "kamailio.sh: pid $pid still alive after ${STOP_TIMEOUT}s, SIGKILL to its process group" >&2
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	# Children are in the main process's group (started with setsid).
	if pgrep -g "$pid" >/dev/null 2>&1; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$RUNDIR/kamailio.pid" "$RUNDIR/launcher.pid"
	echo "kamailio.sh: stopped pid $pid" >&2
}

do_status() {
	[ -n "$RUNDIR" ] || die "status: no run dir (--rundir or RELAY_RUNDIR)"
	local pid; pid=$(read_pid)
	if pid_alive "$pid"; then
		[ -f "$RUNDIR/relay.env" ] && cat "$RUNDIR/relay.env"
		echo "STATUS=running"
		return 0
	fi
	echo "STATUS=stopped"
	return 1
}

do_start() {
	local kam; kam=$(find_kamailio) || die "kamailio not found (apt-get install -y kamailio kamailio-tls-modules)"
	local moddir
	for moddir in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules; do
		[ -f "$moddir/msrp.so" ] && break
	done
	[ -f "$moddir/tls.so" ] || die "Kamailio's tls module is missing (apt-get install -y kamailio-tls-modules)"
	local ws=0 p
	if [ -n "$WS_PORT" ] || [ -n "$WSS_PORT" ]; then
		ws=1
		[ -f "$moddir/websocket.so" ] || die "Kamailio's websocket module is missing (apt-get install -y kamailio-websocket-modules)"
	fi
	for p in "$WS_PORT" "$WSS_PORT"; do
		case $p in *[!0-9]*) die "--ws-port / --wss-port need a port number: '$p'" ;; esac
	done
	if [ -n "$GIVEN_CERT$GIVEN_KEY" ]; then
		{ [ -s "$GIVEN_CERT" ] && [ -s "$GIVEN_KEY" ]; } || die "--cert and --key need two readable PEM files"
		case $GIVEN_CERT$GIVEN_KEY in *'|'*) die "--cert / --key paths must not contain '|'" ;; esac
	fi
	command -v openssl >/dev/null || die "openssl not found"
	command -v python3 >/dev/null || die "python3 not found"
	[ -f "$TEMPLATE" ] || die "missing $TEMPLATE"
	case $MIN_EXPIRES in ''|*[!0-9]*) die "--min-expires needs seconds: '$MIN_EXPIRES'" ;; esac
	check_token user "$RUSER"; check_token password "$PASSWORD"; check_token realm "$REALM"

	if [ -z "$RUNDIR" ]; then
		RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/msrp-relay.XXXXXX")
	fi
	mkdir -p "$RUNDIR"
	RUNDIR=$(cd "$RUNDIR" && pwd)

	local old; old=$(read_pid)
	if pid_alive "$old"; then
		die "a relay is already running in $RUNDIR (pid $old); stop it first"
	fi

	# Self-signed certificate for 127.0.0.1 / localhost (P-256: quick to make),
	# unless one was given.
	local cert="$RUNDIR/relay-cert.pem" key="$RUNDIR/relay-key.pem"
	if [ -n "$GIVEN_CERT" ]; then
		cert=$(cd "$(dirname "$GIVEN_CERT")" && pwd)/$(basename "$GIVEN_CERT")
		key=$(cd "$(dirname "$GIVEN_KEY")" && pwd)/$(basename "$GIVEN_KEY")
	elif [ ! -s "$cert" ] || [ ! -s "$key" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$key" -out "$cert" -days 30 -subj "/CN=127.0.0.1" \
			-addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:$REALM" \
			-addext "basicConstraints=critical,CA:FALSE" \
			-addext "keyUsage=critical,digitalSignature" \
			-addext "extendedKeyUsage=serverAuth,clientAuth" \
			>"$RUNDIR/openssl.log" 2>&1 || { cat "$RUNDIR/openssl.log" >&2; die "openssl failed"; }
	fi

	local auto_tcp=0 auto_tls=0 auto_ws=0 auto_wss=0 attempt
	[ "$TCP_PORT" = 0 ] && auto_tcp=1
	[ "$TLS_PORT" = 0 ] && auto_tls=1
	[ "$WS_PORT" = 0 ] && auto_ws=1
	[ "$WSS_PORT" = 0 ] && auto_wss=1
	# Kamailio preprocessor defines (#!define) for the optional parts.
	local defines=""
	[ -n "$WS_PORT" ] && defines="$defines#!define WITH_WS\\n"
	[ -n "$WSS_PORT" ] && defines="$defines#!define WITH_WSS\\n"
	[ $ws = 1 ] && defines="$defines#!define WITH_WEBSOCKET\\n"

	for attempt in 1 2 3; do
		[ $auto_tcp = 1 ] && TCP_PORT=$(free_port)
		[ $auto_tls = 1 ] && TLS_PORT=$(free_port)
		[ $auto_ws = 1 ] && WS_PORT=$(free_port)
		[ $auto_wss = 1 ] && WSS_PORT=$(free_port)
		local ports; ports=$(printf '%s\n' "$TCP_PORT" "$TLS_PORT" $WS_PORT $WSS_PORT)
		[ "$(sort -u <<<"$ports" | wc -l)" = "$(wc -l <<<"$ports")" ] || continue

		sed -e "s|@TCP_PORT@|$TCP_PORT|g" -e "s|@TLS_PORT@|$TLS_PORT|g" \
			-e "s|@WS_PORT@|${WS_PORT:-0}|g" -e "s|@WSS_PORT@|${WSS_PORT:-0}|g" \
			-e "s|@DEFINES@|$defines|" \
			-e "s|@RUNDIR@|$RUNDIR|g" -e "s|@CERT@|$cert|g" -e "s|@KEY@|$key|g" \
			-e "s|@USER@|$RUSER|g" -e "s|@PASSWORD@|$PASSWORD|g" -e "s|@REALM@|$REALM|g" -e "s|@MIN_EXPIRES@|$MIN_EXPIRES|g" \
			"$TEMPLATE" >"$RUNDIR/kamailio.cfg"
		if grep -q '@[A-Z_]*@' "$RUNDIR/kamailio.cfg"; then
			die "unrendered placeholder in $RUNDIR/kamailio.cfg: $(grep -o '@[A-Z_]*@' "$RUNDIR/kamailio.cfg" | head -1)"
		fi

		: >"$RUNDIR/kamailio.log"
		rm -f "$RUNDIR/kamailio.pid" "$RUNDIR/launcher.pid"
		# -DD: no daemonizing (this shell keeps the main pid), -E: log to
		# stderr (the log file). setsid: own process group, away from the
		# caller's terminal signals. --atexit=no: OpenSSL 3 vs. shm at exit.
		setsid "$kam" -f "$RUNDIR/kamailio.cfg" -P "$RUNDIR/kamailio.pid" \
			-Y "$RUNDIR" -w "$RUNDIR" -L "$moddir" -DD -E -m 64 -M 16 --atexit=no \
			>>"$RUNDIR/kamailio.log" 2>&1 </dev/null &
		local pid=$!
		echo "$pid" >"$RUNDIR/launcher.pid"

		local i=0 up=0
		while [ $i -lt $((START_TIMEOUT * 10)) ]; do
			if ! pid_alive "$pid"; then break; fi
			if port_open "$TCP_PORT" && port_open "$TLS_PORT" \
					&& { [ -z "$WS_PORT" ] || port_open "$WS_PORT"; } \
					&& { [ -z "$WSS_PORT" ] || port_open "$WSS_PORT"; }; then
				up=1; break
			fi
			sleep 0.1; i=$((i + 1))
		done
		if [ $up = 1 ]; then
			cat >"$RUNDIR/relay.env" <<EOF
RUNDIR=$RUNDIR
TCP_PORT=$TCP_PORT
TLS_PORT=$TLS_PORT
TCP_URI=msrp://127.0.0.1:$TCP_PORT;tcp
TLS_URI=msrps://127.0.0.1:$TLS_PORT;tcp
CERT=$cert
KEY=$key
USER=$RUSER
PASSWORD=$PASSWORD
REALM=$REALM
PID=$pid
LOG=$RUNDIR/kamailio.log
EOF
			if [ -n "$WS_PORT" ]; then
				printf 'WS_PORT=%s\nWS_URI=msrp://127.0.0.1:%s;ws\nWS_URL=ws://127.0.0.1:%s/\n' \
					"$WS_PORT" "$WS_PORT" "$WS_PORT" >>"$RUNDIR/relay.env"
			fi
			if [ -n "$WSS_PORT" ]; then
				printf 'WSS_PORT=%s\nWSS_URI=msrps://127.0.0.1:%s;ws\nWSS_URL=wss://127.0.0.1:%s/\n' \
					"$WSS_PORT" "$WSS_PORT" "$WSS_PORT" >>"$RUNDIR/relay.env"
			fi
			if [ -n "$WATCH_PID" ]; then
				start_watcher "$pid"
			fi
			cat "$RUNDIR/relay.env"
			return 0
		fi
		if pid_alive "$pid"; then
			echo "kamailio.sh: ports $TCP_PORT/$TLS_PORT${WS_PORT:+/$WS_PORT}${WSS_PORT:+/$WSS_PORT} not accepting after ${START_TIMEOUT}s" >&2
			log_tail
			do_stop || true
			exit 1
		fi
		# Died: retry only a lost race for auto-picked ports.
		if grep -qiE 'address already in use|bind' "$RUNDIR/kamailio.log" && [ $((auto_tcp + auto_tls + auto_ws + auto_wss)) -gt 0 ]; then
			echo "kamailio.sh: port taken meanwhile, retrying ($attempt)" >&2
			continue
		fi
		echo "kamailio.sh: kamailio exited during start-up" >&2
		log_tail
		exit 1
	done
	echo "kamailio.sh: could not start after 3 attempts" >&2
	log_tail
	exit 1
}

case $CMD in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
*) usage ;;
esac
