# shellcheck shell=bash
# test/lib/common.sh — shared helpers for opsmeter's test, demo and bench scripts.
#
# Source it from a bash script (ideally one running with `set -euo pipefail`):
#
#     . "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# It sets:
#   REPO                  absolute path of the repository root (unless already set)
#   OPSMETER_PG_CONFIG    the pg_config of the PostgreSQL under test: $PG_CONFIG, else
#                         `pg_config` on PATH (on Debian, the newest postgresql-server-dev-NN)
#   OPSMETER_PGBIN        that PostgreSQL's binaries (`pg_config --bindir`)
#   PATH                  with $OPSMETER_PGBIN first, so psql/pg_ctl/... are that version
# Until the packages are installed there may be no pg_config: these are set as
# soon as one exists (opsmeter_require_packages sets them after installing).
#
#   opsmeter_use_postgres PG_CONFIG
#       Point OPSMETER_PG_CONFIG, OPSMETER_PGBIN and PATH at another PostgreSQL
#       (e.g. a source build of 17 or 18); later clusters and builds use it.
#
# Functions (all of them print what they do, with an "opsmeter:" prefix):
#
#   opsmeter_require_packages
#       Make sure the Debian packages the project needs are installed.  As root it
#       runs `apt-get update` + `apt-get install` for the missing ones; otherwise it
#       prints the missing list and the command to run, and exits 1.
#
#   opsmeter_build_install [DIR]
#       `make -C DIR` (default $REPO) for $OPSMETER_PG_CONFIG (compiler output and
#       warnings are shown, never hidden; OPSMETER_BUILD_WARNINGS is set to their
#       count), then `make -C DIR install`.  Not as root: explains how to install if
#       that fails.  Returns non-zero on failure (so `set -e` callers stop).
#
#   opsmeter_cluster_start NAME [postgresql.conf line ...]
#       initdb + start a throwaway PostgreSQL 15 cluster in a fresh `mktemp -d`
#       directory (exported as OPSMETER_PGDATA_ROOT; data dir is
#       $OPSMETER_PGDATA_ROOT/data, log is $OPSMETER_PGDATA_ROOT/server.log).
#       As root the cluster belongs to the unprivileged `postgres` user.  It listens
#       only on a unix socket in that directory, on a free port in 55000-59999 (never
#       5432), with shared_preload_libraries = 'opsmeter', max_connections = 50,
#       fsync = off, log_min_messages = warning, then the extra lines given (later
#       lines win, so an extra `shared_preload_libraries = 'opsmeter,pg_cron'` line
#       overrides the default).  Exports PGHOST, PGPORT, PGUSER=postgres and
#       PGDATABASE=postgres.  An EXIT trap stops the cluster (`pg_ctl -m immediate
#       stop`) and removes the directory; when the script exits non-zero it first
#       prints the last 50 lines of server.log.  It never touches the machine's own
#       clusters (e.g. 15/main on port 5432).
#
#       OPSMETER_NO_PRELOAD=1  omit the shared_preload_libraries line (smoke tests of
#                              this file itself, before the module is built).
#       OPSMETER_TMPDIR=DIR    parent directory for the cluster (default /tmp; keep it
#                              short: unix socket paths are limited to ~107 bytes, and
#                              `postgres` must be able to traverse it).
#
#   opsmeter_cluster_stop
#       Stop and remove the cluster started last (before starting one for another
#       PostgreSQL version); the EXIT trap no longer needs to.
#
#   opsmeter_defer COMMAND
#       Register a shell command to run from the same EXIT trap (last registered runs
#       first).  Scripts sourcing this file must use this instead of their own
#       `trap ... EXIT`, which would replace the cluster cleanup.
#
#   opsmeter_cleanup_now [RC]
#       Do the EXIT trap's work now (deferred commands, stop + remove clusters; with
#       RC != 0 print the server.log tails) so a script's own last line comes last.
#
#   opsmeter_as_pg_owner CMD [ARG ...]
#       Run a command as the cluster owner (`runuser -u postgres --` as root, else
#       directly), from a directory that user can read.

if [[ -n "${OPSMETER_COMMON_SH_LOADED:-}" ]]; then
	return 0
fi
OPSMETER_COMMON_SH_LOADED=1

if [[ -z "${REPO:-}" ]]; then
	REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
export REPO

opsmeter_use_postgres() {
	local pg_config="$1" bindir
	bindir="$("$pg_config" --bindir)" || return 1
	export OPSMETER_PG_CONFIG="$pg_config"
	export OPSMETER_PGBIN="$bindir"
	case ":$PATH:" in
		*":$OPSMETER_PGBIN:"*) ;;
		*) PATH="$OPSMETER_PGBIN:$PATH" ;;
	esac
	export PATH
}

# The PostgreSQL under test, once a pg_config exists (see above).
opsmeter__default_postgres() {
	if [[ -n "${OPSMETER_PG_CONFIG:-}" ]]; then
		opsmeter_use_postgres "$OPSMETER_PG_CONFIG"
	elif command -v "${PG_CONFIG:-pg_config}" >/dev/null 2>&1; then
		opsmeter_use_postgres "$(command -v "${PG_CONFIG:-pg_config}")"
	fi
}
opsmeter__default_postgres || true

OPSMETER_REQUIRED_PACKAGES=(make gcc postgresql-15 postgresql-server-dev-15 libjson-c-dev libipc-run-perl postgresql-15-cron)

opsmeter_log() { printf 'opsmeter: %s\n' "$*"; }
opsmeter_err() { printf 'opsmeter: %s\n' "$*" >&2; }

opsmeter_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# ---------------------------------------------------------------------------
# packages

opsmeter_require_packages() {
	local pkg status missing=()
	for pkg in "${OPSMETER_REQUIRED_PACKAGES[@]}"; do
		status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
		if [[ "$status" != "install ok installed" ]]; then
			missing+=("$pkg")
		fi
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		opsmeter_log "required Debian packages present: ${OPSMETER_REQUIRED_PACKAGES[*]}"
		opsmeter__default_postgres
		return 0
	fi
	if ! opsmeter_is_root; then
		echo "opsmeter: missing Debian packages: ${missing[*]}" >&2
		echo "run as root: apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	opsmeter_log "installing missing Debian packages: ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	opsmeter__default_postgres
}

# ---------------------------------------------------------------------------
# build

opsmeter_build_install() {
	local dir="${1:-$REPO}" jobs log rc=0
	jobs="$(nproc 2>/dev/null || echo 2)"
	log="$(mktemp "${OPSMETER_TMPDIR:-/tmp}/opsmeter-build.XXXXXX")"
	opsmeter_log "building: make -C $dir -j$jobs PG_CONFIG=$OPSMETER_PG_CONFIG (compiler warnings are shown below)"
	make -C "$dir" -j"$jobs" PG_CONFIG="$OPSMETER_PG_CONFIG" 2>&1 | tee "$log" || rc=$?
	# The build must be clean on every supported major: a warning is a failure.
	OPSMETER_BUILD_WARNINGS="$(grep -c 'warning:' "$log" || true)"
	rm -f "$log"
	if [[ $rc -ne 0 ]]; then
		opsmeter_err "build failed (see compiler output above)"
		return 1
	fi
	opsmeter_log "built with $OPSMETER_BUILD_WARNINGS compiler warning(s)"
	opsmeter_log "installing: make -C $dir install"
	if make -C "$dir" install PG_CONFIG="$OPSMETER_PG_CONFIG"; then
		return 0
	fi
	if opsmeter_is_root; then
		opsmeter_err "'make install' failed (see output above)"
		return 1
	fi
	opsmeter_err "'make install' failed. It copies opsmeter.so into $("$OPSMETER_PG_CONFIG" --pkglibdir) and the"
	opsmeter_err "extension files into $("$OPSMETER_PG_CONFIG" --sharedir)/extension, which normally needs root."
	opsmeter_err "Run as root:  make -C $dir install   (or: sudo make -C $dir install)"
	opsmeter_err "then run this script again."
	return 1
}

# ---------------------------------------------------------------------------
# cleanup registry (one EXIT trap for everything)

OPSMETER_DEFERRED=()
OPSMETER_CLUSTER_ROOTS=()

opsmeter_defer() {
	OPSMETER_DEFERRED+=("$1")
	opsmeter__install_trap
}

opsmeter__install_trap() {
	if [[ -z "${OPSMETER_TRAP_SET:-}" ]]; then
		OPSMETER_TRAP_SET=1
		trap 'opsmeter__on_exit' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		trap 'exit 129' HUP
	fi
}

opsmeter__on_exit() {
	local rc=$?
	set +e
	trap - EXIT
	opsmeter_cleanup_now "$rc"
	exit "$rc"
}

# opsmeter_cleanup_now [RC]: run the EXIT-trap work now (deferred commands, then
# stop + remove every throwaway cluster; with RC != 0 print server.log tails first)
# and forget it, so the trap has nothing left to do.  For scripts that want their
# last output line to be their own (e.g. a summary).
opsmeter_cleanup_now() {
	local rc="${1:-0}" i
	for ((i = ${#OPSMETER_DEFERRED[@]} - 1; i >= 0; i--)); do
		eval "${OPSMETER_DEFERRED[$i]}" || true
	done
	OPSMETER_DEFERRED=()
	for ((i = ${#OPSMETER_CLUSTER_ROOTS[@]} - 1; i >= 0; i--)); do
		opsmeter__cluster_stop "${OPSMETER_CLUSTER_ROOTS[$i]}" "$rc" || true
	done
	OPSMETER_CLUSTER_ROOTS=()
}

opsmeter__cluster_stop() {
	local root="$1" rc="${2:-0}" pid
	[[ -n "$root" && -d "$root" ]] || return 0
	if [[ "$rc" -ne 0 && -f "$root/server.log" ]]; then
		echo "opsmeter: ---- last 50 lines of $root/server.log ----" >&2
		tail -n 50 "$root/server.log" >&2
		echo "opsmeter: ---- end of server.log ----" >&2
	fi
	if [[ -f "$root/data/postmaster.pid" ]]; then
		pid="$(head -n 1 "$root/data/postmaster.pid" 2>/dev/null || true)"
		opsmeter_as_pg_owner "$OPSMETER_PGBIN/pg_ctl" -D "$root/data" -m immediate -w stop >/dev/null 2>&1 ||
			opsmeter_err "pg_ctl stop failed for $root/data"
		# Last resort: the postmaster we started (by its pid) if it is still alive.
		if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
			[[ "$(readlink "/proc/$pid/cwd" 2>/dev/null || true)" == "$root/data" ]]; then
			kill -KILL "$pid" 2>/dev/null || true
			sleep 1
		fi
	fi
	rm -rf -- "$root"
	opsmeter_log "stopped throwaway cluster and removed $root"
}

opsmeter_cluster_stop() {
	local n=${#OPSMETER_CLUSTER_ROOTS[@]}
	[[ $n -gt 0 ]] || return 0
	opsmeter__cluster_stop "${OPSMETER_CLUSTER_ROOTS[$((n - 1))]}" "${1:-0}" || true
	unset "OPSMETER_CLUSTER_ROOTS[$((n - 1))]"
	OPSMETER_CLUSTER_ROOTS=("${OPSMETER_CLUSTER_ROOTS[@]}")
}

# ---------------------------------------------------------------------------
# cluster

opsmeter_as_pg_owner() {
	if opsmeter_is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# Is anything using PORT?  Checks TCP listeners (IPv4/IPv6), unix sockets named
# .s.PGSQL.PORT anywhere, and a server answering on the default socket directory.
opsmeter__port_in_use() {
	local port="$1"
	if command -v ss >/dev/null 2>&1; then
		if [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]; then
			return 0
		fi
		if ss -Hlx 2>/dev/null | grep -q "\.s\.PGSQL\.$port\b"; then
			return 0
		fi
	fi
	local d
	for d in /var/run/postgresql /tmp; do
		[[ -e "$d/.s.PGSQL.$port" || -e "$d/.s.PGSQL.$port.lock" ]] && return 0
	done
	if "$OPSMETER_PGBIN/pg_isready" -q -h localhost -p "$port" -t 1 >/dev/null 2>&1; then
		return 0
	fi
	if "$OPSMETER_PGBIN/pg_isready" -q -h /var/run/postgresql -p "$port" -t 1 >/dev/null 2>&1; then
		return 0
	fi
	return 1
}

opsmeter__pick_port() {
	local port tries
	for ((tries = 0; tries < 200; tries++)); do
		port=$((55000 + (RANDOM * 32768 + RANDOM) % 5000))
		if ! opsmeter__port_in_use "$port"; then
			echo "$port"
			return 0
		fi
	done
	opsmeter_err "could not find a free port in 55000-59999"
	return 1
}

opsmeter_cluster_start() {
	local name="${1:-cluster}"
	shift || true
	name="${name//[^A-Za-z0-9_-]/_}"

	local parent="${OPSMETER_TMPDIR:-/tmp}"
	local root
	root="$(mktemp -d "$parent/opsmeter-$name.XXXXXX")"
	OPSMETER_CLUSTER_ROOTS+=("$root")
	opsmeter__install_trap
	export OPSMETER_PGDATA_ROOT="$root"

	# world-traversable so `postgres` (and any client) can reach the socket
	chmod 755 "$root"
	if opsmeter_is_root; then
		chown postgres:postgres "$root"
	fi
	if [[ ${#root} -gt 80 ]]; then
		opsmeter_err "warning: $root is long; unix socket paths are limited to ~107 bytes (set OPSMETER_TMPDIR=/tmp)"
	fi

	# locale: C.UTF-8 when the machine has it, else --no-locale
	local -a locale_args=(--encoding=UTF8 --locale=C.UTF-8)
	if ! locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
		opsmeter_log "locale C.UTF-8 not available; using --no-locale"
		locale_args=(--encoding=UTF8 --no-locale)
	fi

	opsmeter_log "initdb $root/data"
	if ! opsmeter_as_pg_owner "$OPSMETER_PGBIN/initdb" -D "$root/data" --auth=trust \
		--username=postgres "${locale_args[@]}" >"$root/initdb.log" 2>&1; then
		cat "$root/initdb.log" >&2
		opsmeter_err "initdb failed"
		return 1
	fi

	local port
	port="$(opsmeter__pick_port)" || return 1

	{
		echo ""
		echo "# ---- opsmeter throwaway test cluster ($name) ----"
		echo "port = $port"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$root'"
		if [[ "${OPSMETER_NO_PRELOAD:-0}" != "1" ]]; then
			echo "shared_preload_libraries = 'opsmeter'"
		fi
		echo "max_connections = 50"
		echo "fsync = off"
		echo "log_min_messages = warning"
		local line
		for line in "$@"; do
			echo "$line"
		done
	} >>"$root/data/postgresql.conf"

	# server.log must be writable by the server owner
	touch "$root/server.log"
	if opsmeter_is_root; then
		chown postgres:postgres "$root/server.log"
	fi

	opsmeter_log "starting cluster '$name' on unix socket $root port $port"
	if ! opsmeter_as_pg_owner "$OPSMETER_PGBIN/pg_ctl" -D "$root/data" -w -t 60 \
		-l "$root/server.log" start; then
		opsmeter_err "pg_ctl start failed; last 50 lines of $root/server.log:"
		tail -n 50 "$root/server.log" >&2 || true
		return 1
	fi

	export PGHOST="$root"
	export PGPORT="$port"
	export PGUSER=postgres
	export PGDATABASE=postgres
	opsmeter_log "cluster '$name' ready: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATABASE=$PGDATABASE"
}

# The server runs as `postgres` and only needs the installed files (pkglibdir,
# share/extension).  Scripts that make the server read files from the repo (e.g.
# server-side COPY FROM a fixture) can call this to check it is possible.
opsmeter_repo_readable_by_postgres() {
	if ! opsmeter_is_root; then
		return 0
	fi
	if runuser -u postgres -- test -r "$REPO/Makefile" 2>/dev/null; then
		return 0
	fi
	opsmeter_err "note: user postgres cannot read $REPO (a parent directory is not traversable);"
	opsmeter_err "server-side reads of repo files will fail — copy such files into \$OPSMETER_PGDATA_ROOT instead."
	return 1
}
