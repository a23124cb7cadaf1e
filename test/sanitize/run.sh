#!/usr/bin/env bash
# test/sanitize/run.sh — the pg_regress + isolation suite against opsmeter built with
# AddressSanitizer + UndefinedBehaviorSanitizer (gcc).
#
#     bash test/sanitize/run.sh
#
# What it does (nothing outside a temp directory is written; the system-installed
# opsmeter.so of the PostgreSQL under test and the repo's own build products are
# never touched, so `make test` keeps using the normal build):
#
#   1. require Debian packages (as root, installs missing ones, including the
#      sanitizer runtimes libasan8 / libubsan1 and gcc's libgcc-12-dev).
#   2. copy the repo sources (without .git and build products) to $WORK/src, and
#      that PostgreSQL (`pg_config`: the tree holding --bindir, and --sharedir) to
#      the same paths under $WORK/pgroot (on Debian /usr/lib/postgresql/15 and
#      /usr/share/postgresql/15).
#      PostgreSQL is relocatable: the copied postgres binary finds its lib and share
#      directories relative to itself, so it loads the sanitized opsmeter.so.
#   3. build the copy with COPT="$SANITIZE_CFLAGS" (pgxs adds COPT to CFLAGS and
#      LDFLAGS) and `make install DESTDIR=$WORK/pgroot`.
#   4. start a throwaway cluster (test/lib/common.sh, the same settings as
#      test/run-tests.sh) with the copied binaries; the postmaster (only it and its
#      children, plus pg_ctl and the `sh` that execs it) runs with LD_PRELOAD of the
#      ASan + UBSan runtimes, ASAN_OPTIONS and UBSAN_OPTIONS.
#   5. `make installcheck` in the copy, against that cluster: the REGRESS stories and
#      ISOLATION specs named in the Makefile, with its REGRESS_OPTS / ISOLATION_OPTS
#      (run as two makes, so the specs run even when a story fails).
#   6. stop the cluster, collect sanitizer reports (ASan's log_path files, and
#      server.log, where UBSan reports go: lines such as `runtime error:` /
#      `ERROR: AddressSanitizer`), print them with the opsmeter file:line they name.
#
# Exit status is non-zero if any test failed, any sanitizer report was found, or a
# server process crashed.  The last line is `N passed, N failed, N sanitizer
# report(s), N crash line(s), Ns`.  PostgreSQL itself is not instrumented (only
# its malloc/str* calls are intercepted), so reports come from opsmeter's code or
# the json-c calls it makes.  Memory from palloc lives inside large malloc'd
# blocks, so ASan sees overruns of palloc chunks only at a block's end; stack,
# global and malloc (json-c) memory is fully checked.
#
# Environment:
#   SANITIZE_CFLAGS      compiler flags for the sanitized build (default below).
#                        -fno-wrapv undoes PostgreSQL's -fwrapv for our code only,
#                        so signed overflow in opsmeter is reported.  UBSan
#                        checks recover (every report is collected, the suite goes
#                        on); ASan stops the backend (abort_on_error=1).
#   SANITIZE_REGRESS     override the REGRESS list (e.g. "install ingest"); default:
#                        the Makefile's.
#   SANITIZE_ISOLATION   override the ISOLATION list ("" = none); default: Makefile's.
#   SANITIZE_PLANT_BUG   asan | ubsan | both (or 1): before building, plant a
#                        deliberate bug in the scratch copy of src/ingest_jsonb.c
#                        (opsmeter_ingest): a heap-buffer-overflow read (asan)
#                        and/or a signed int32 overflow (ubsan).  The run must
#                        then report it and exit non-zero.  Never touches the repo.
#   SANITIZE_KEEP=1      keep $WORK (sources, pgroot, sanitizer logs) afterwards.
#   OPSMETER_TMPDIR      parent of the temp directories (default /tmp).
set -euo pipefail

T0=$SECONDS
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$REPO/test/lib/common.sh"


SANITIZE_CFLAGS="${SANITIZE_CFLAGS:--O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -fno-wrapv -fsanitize=address,undefined,float-cast-overflow}"
PLANT="${SANITIZE_PLANT_BUG:-}"
[[ "$PLANT" == 1 ]] && PLANT=both
case "$PLANT" in
	"" | asan | ubsan | both) ;;
	*)
		opsmeter_err "SANITIZE_PLANT_BUG must be asan, ubsan, both or 1 (got '$PLANT')"
		exit 2
		;;
esac

section() { printf '\n==== %s ====\n' "$*"; }
die() {
	opsmeter_err "$*"
	exit 1
}

# ---------------------------------------------------------------------------
section "packages"
opsmeter_require_packages
# The PostgreSQL under test (test/lib/common.sh: $PG_CONFIG, else pg_config).
SYS_PG_CONFIG="$OPSMETER_PG_CONFIG"
SYS_PGBIN="$("$SYS_PG_CONFIG" --bindir)"
SYS_PGLIB="$(dirname "$SYS_PGBIN")"      # holds bin/ and lib/ (Debian: /usr/lib/postgresql/NN)
SYS_PGSHARE="$("$SYS_PG_CONFIG" --sharedir)"
SYS_PKGLIB="$("$SYS_PG_CONFIG" --pkglibdir)"

GCC_MAJOR="$(gcc -dumpversion | cut -d. -f1)"
SANITIZE_PACKAGES=("libgcc-$GCC_MAJOR-dev" libasan8 libubsan1)
missing=()
for pkg in "${SANITIZE_PACKAGES[@]}"; do
	if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
	if ! opsmeter_is_root; then
		die "missing Debian packages: ${missing[*]} (run as root: apt-get install -y ${missing[*]})"
	fi
	opsmeter_log "installing missing Debian packages: ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
	opsmeter_log "sanitizer packages present: ${SANITIZE_PACKAGES[*]}"
fi

ASAN_RT="$(readlink -f "$(gcc -print-file-name=libasan.so)")"
UBSAN_RT="$(readlink -f "$(gcc -print-file-name=libubsan.so)")"
[[ -f "$ASAN_RT" ]] || die "ASan runtime not found (gcc -print-file-name=libasan.so)"
[[ -f "$UBSAN_RT" ]] || die "UBSan runtime not found (gcc -print-file-name=libubsan.so)"
opsmeter_log "runtimes: $ASAN_RT $UBSAN_RT"
SYMBOLIZER="$(command -v llvm-symbolizer 2>/dev/null || true)"

# Everything this script installs goes under $WORK/pgroot.  Someone else may still
# reinstall the system module meanwhile: a change is reported, as a warning.
SYS_SO="$SYS_PKGLIB/opsmeter.so"
SYS_SO_SUM="$(sha256sum "$SYS_SO" 2>/dev/null | cut -d' ' -f1 || true)"

# ---------------------------------------------------------------------------
section "scratch copies"
WORK="$(mktemp -d "${OPSMETER_TMPDIR:-/tmp}/opsmeter-sanbuild.XXXXXX")"
chmod 755 "$WORK"
if [[ "${SANITIZE_KEEP:-0}" == 1 ]]; then
	opsmeter_defer "echo 'opsmeter: kept $WORK (SANITIZE_KEEP=1)'"
else
	opsmeter_defer "rm -rf -- $(printf '%q' "$WORK")"
fi
SRC="$WORK/src"
PGROOT="$WORK/pgroot"
SANLOG="$WORK/sanitizer-logs"

mkdir -p "$SRC"
tar -C "$REPO" --exclude=./.git --exclude=./results --exclude=./output_iso \
	--exclude=./test/isolation/results --exclude=./test/isolation/output_iso \
	--exclude=./tmp_check --exclude=./log --exclude=./bench-results \
	--exclude=./regression.diffs --exclude=./regression.out \
	--exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$SRC" -xf -
opsmeter_log "sources copied to $SRC"

mkdir -p "$(dirname "$PGROOT$SYS_PGLIB")"
cp -a "$SYS_PGLIB" "$PGROOT$SYS_PGLIB"
if [[ ! -d "$PGROOT$SYS_PGSHARE" ]]; then # a source build's share/ is inside its prefix
	mkdir -p "$(dirname "$PGROOT$SYS_PGSHARE")"
	cp -a "$SYS_PGSHARE" "$PGROOT$SYS_PGSHARE"
fi
# Never install through whatever the system tree holds for opsmeter (a symlink
# there would make `make install` write into the system): remove it from the copy.
rm -f "$PGROOT$SYS_PKGLIB/opsmeter.so" \
	"$PGROOT$SYS_PGSHARE/extension/opsmeter"* \
	"$PGROOT$SYS_PGSHARE/extension/opsmeter_prices.json"
# every directory on the way must be traversable by the cluster owner
d="$PGROOT$SYS_PGLIB"
while [[ "$d" != "$PGROOT" && "$d" != / ]]; do d="$(dirname "$d")"; chmod 755 "$d"; done
d="$PGROOT$SYS_PGSHARE"
while [[ "$d" != "$PGROOT" && "$d" != / ]]; do d="$(dirname "$d")"; chmod 755 "$d"; done
PGBIN="$PGROOT$SYS_PGBIN"
PGPKGLIB="$PGROOT$SYS_PKGLIB"
# The copied binaries must resolve their dirs inside the copy.
reloc_share="$("$PGBIN/pg_config" --sharedir)"
reloc_lib="$("$PGBIN/pg_config" --pkglibdir)"
[[ "$reloc_share" == "$PGROOT$SYS_PGSHARE" && "$reloc_lib" == "$PGPKGLIB" ]] ||
	die "relocation check failed: copied pg_config says sharedir=$reloc_share pkglibdir=$reloc_lib"
opsmeter_log "PostgreSQL copied to $PGROOT (sharedir=$reloc_share)"

# ---------------------------------------------------------------------------
plant_bug() {
	local f="$SRC/src/ingest_jsonb.c" anchor='opsmeter_ingest_begin(&call, "opsmeter_ingest");' code=""
	grep -qF "$anchor" "$f" || die "SANITIZE_PLANT_BUG: anchor '$anchor' not found in $f"
	if [[ "$PLANT" == ubsan || "$PLANT" == both ]]; then
		code+="$(
			cat <<'EOF'
	{	/* SANITIZE_PLANT_BUG=ubsan: signed int32 overflow */
		volatile int32 plant_one = 1;
		volatile int32 plant_x = PG_INT32_MAX;

		plant_x = plant_x + plant_one;
	}
EOF
		)"$'\n'
	fi
	if [[ "$PLANT" == asan || "$PLANT" == both ]]; then
		code+="$(
			cat <<'EOF'
	{	/* SANITIZE_PLANT_BUG=asan: heap-buffer-overflow read, one byte past malloc(8) */
		char	   *volatile plant_p = malloc(8);
		volatile int plant_i = 8;
		volatile char plant_sink;

		plant_sink = plant_p[plant_i];
		(void) plant_sink;
		free(plant_p);
	}
EOF
		)"$'\n'
	fi
	ANCHOR="$anchor" CODE="$code" perl -0pi -e \
		's/\Q$ENV{ANCHOR}\E\n/$ENV{ANCHOR}\n$ENV{CODE}/ or die "anchor not replaced\n"' "$f"
	opsmeter_log "PLANTED a deliberate bug ($PLANT) in the scratch copy $f:"
	grep -n -A"$(printf '%s' "$code" | wc -l)" -F "$anchor" "$f"
}
if [[ -n "$PLANT" ]]; then
	section "plant a deliberate bug (SANITIZE_PLANT_BUG=$PLANT)"
	plant_bug
fi

# ---------------------------------------------------------------------------
section "sanitized build"
jobs="$(nproc 2>/dev/null || echo 2)"
opsmeter_log "make -C $SRC COPT='$SANITIZE_CFLAGS'"
make -C "$SRC" -j"$jobs" PG_CONFIG="$SYS_PG_CONFIG" COPT="$SANITIZE_CFLAGS" ||
	die "sanitized build failed (see compiler output above)"
make -C "$SRC" install PG_CONFIG="$SYS_PG_CONFIG" DESTDIR="$PGROOT" ||
	die "make install DESTDIR=$PGROOT failed"
SAN_SO="$PGPKGLIB/opsmeter.so"
[[ -f "$SAN_SO" ]] || die "$SAN_SO missing after make install DESTDIR=$PGROOT"
[[ -f "$PGROOT$SYS_PGSHARE/extension/opsmeter.control" ]] ||
	die "opsmeter.control missing from the copied share dir after make install"
readelf -d "$SAN_SO" | grep -q 'NEEDED.*libasan' || die "$SAN_SO is not linked against libasan"
opsmeter_log "installed sanitized module $SAN_SO"

# ---------------------------------------------------------------------------
section "sanitizer runtime options"
mkdir -p "$SANLOG"
if opsmeter_is_root; then
	chown postgres:postgres "$SANLOG"
fi
# detect_leaks=0: PostgreSQL frees by memory context and exits without freeing.
# abort_on_error=1: an ASan report kills the backend by SIGABRT, so the postmaster
# does a crash restart (a plain exit(1) would be taken for a FATAL exit).
ASAN_OPTS="detect_leaks=0:abort_on_error=1:disable_coredump=1:print_summary=1"
ASAN_OPTS+=":log_path=$SANLOG/asan:log_exe_name=1"
# UBSan reports go to the backend's stderr, i.e. server.log: with two runtimes in
# the process (gcc has no UBSan handlers in libasan), a UBSan log_path ends up
# splitting a report between stderr and a file.
UBSAN_OPTS="print_stacktrace=1:print_summary=1:report_error_type=1"

# Preload shim, built here, for two problems of sanitizer runtimes injected by
# LD_PRELOAD into an uninstrumented postgres:
#
# 1. ASan init order.  The ASan runtime is initialised after the constructors of
#    postgres's own dependencies.  libgpg-error's constructor calls bindtextdomain(),
#    whose malloc() (intercepted) initialises ASan while glibc holds _nl_state_lock
#    for writing; ASan's init does dlsym("swift_demangle") + dlerror(), and dlerror()
#    translates its message through gettext, which takes the same lock: the lock is
#    left corrupted and postgres hangs in set_pglocale_pgservice() (even
#    `postgres -V`).  Known problem: google/sanitizers#1270.  Defining
#    swift_demangle (returning NULL = "not a Swift name", so ASan falls back to its
#    C++ demangler) makes that dlsym succeed, so dlerror() has nothing to translate.
#
# 2. UBSAN_OPTIONS.  gcc's standalone libubsan initialises lazily, at a backend's
#    first report, and sanitizers read the environment from /proc/self/environ,
#    which PostgreSQL has overwritten with the process title by then: UBSAN_OPTIONS
#    would be lost (reports on stderr, no stack).  The shim defines
#    __ubsan_default_options() with the options baked in; it must come before
#    libubsan in LD_PRELOAD so its definition wins over libubsan's weak one.
#    (ASan initialises at process start, so ASAN_OPTIONS from the environment work.)
SHIM="$WORK/sanitizer_shim.so"
cat >"$WORK/sanitizer_shim.c" <<'EOF'
/* Built by test/sanitize/run.sh; see the comment there. */
#include <stddef.h>
#include <stdint.h>

char	   *swift_demangle(const char *name, size_t len, char *buf, size_t *buflen, uint32_t flags);
const char *__ubsan_default_options(void);

char *
swift_demangle(const char *name, size_t len, char *buf, size_t *buflen, uint32_t flags)
{
	(void) name; (void) len; (void) buf; (void) buflen; (void) flags;
	return NULL;
}

const char *
__ubsan_default_options(void)
{
	return OPSMETER_UBSAN_OPTIONS;
}
EOF
gcc -O2 -shared -fPIC "-DOPSMETER_UBSAN_OPTIONS=\"$UBSAN_OPTS\"" -o "$SHIM" "$WORK/sanitizer_shim.c" ||
	die "could not build $SHIM"
PRELOAD="$ASAN_RT:$SHIM:$UBSAN_RT"
if ! opsmeter_as_pg_owner env "LD_PRELOAD=$PRELOAD" ASAN_OPTIONS=detect_leaks=0 \
	timeout 20 "$PGBIN/postgres" -V; then
	die "the copied postgres does not run with LD_PRELOAD=$PRELOAD"
fi
opsmeter_log "LD_PRELOAD=$PRELOAD"
opsmeter_log "ASAN_OPTIONS=$ASAN_OPTS"
opsmeter_log "UBSAN_OPTIONS (in the shim's __ubsan_default_options)=$UBSAN_OPTS"

# ---------------------------------------------------------------------------
section "throwaway cluster (copied binaries, sanitizer runtimes preloaded)"
export OPSMETER_PGBIN="$PGBIN"
# First start without the module (initdb, port, conf, cleanup trap from common.sh);
# then restart with shared_preload_libraries = 'opsmeter' and the runtimes preloaded
# into pg_ctl's environment only (the sanitized module refuses to load otherwise).
OPSMETER_NO_PRELOAD=1 opsmeter_cluster_start sanitize "log_min_messages = log" ||
	die "cluster start failed"
ROOT="$OPSMETER_PGDATA_ROOT"
# Stop it before $WORK (holding its binaries) is removed by the deferred rm.
opsmeter_defer "opsmeter_as_pg_owner $(printf '%q' "$PGBIN/pg_ctl") -D $(printf '%q' "$ROOT/data") -m immediate -w stop >/dev/null 2>&1 || true"
opsmeter_as_pg_owner "$PGBIN/pg_ctl" -D "$ROOT/data" -m fast -w stop >/dev/null
echo "shared_preload_libraries = 'opsmeter'" >>"$ROOT/data/postgresql.conf"

san_env=(env "LD_PRELOAD=$PRELOAD" "ASAN_OPTIONS=$ASAN_OPTS" "UBSAN_OPTIONS=$UBSAN_OPTS")
if [[ -n "$SYMBOLIZER" ]]; then
	san_env+=("ASAN_SYMBOLIZER_PATH=$SYMBOLIZER")
fi
if ! opsmeter_as_pg_owner "${san_env[@]}" "$PGBIN/pg_ctl" -D "$ROOT/data" -w -t 120 \
	-l "$ROOT/server.log" start; then
	tail -n 50 "$ROOT/server.log" >&2 || true
	die "sanitized postmaster did not start"
fi

# Prove the running postmaster has the sanitized module and the runtime mapped.
PM_PID="$(head -n 1 "$ROOT/data/postmaster.pid")"
maps_has() { awk -v p="$2" '$6 == p { found = 1 } END { exit !found }' "/proc/$1/maps"; }
maps_has "$PM_PID" "$SAN_SO" || die "postmaster $PM_PID has not mapped $SAN_SO"
maps_has "$PM_PID" "$ASAN_RT" || die "postmaster $PM_PID has no ASan runtime ($ASAN_RT) mapped"
if maps_has "$PM_PID" "$SYS_SO"; then
	die "postmaster $PM_PID mapped the system $SYS_SO"
fi
opsmeter_log "postmaster $PM_PID maps $SAN_SO and $ASAN_RT"

# ---------------------------------------------------------------------------
section "make installcheck (pg_regress + isolation) against the sanitized cluster"
INSTALLCHECK_LOG="$WORK/installcheck.log"
: >"$INSTALLCHECK_LOG"
FAILED=0
# Two `make installcheck` runs (REGRESS only, then ISOLATION only), so the isolation
# specs still run when a story fails; the lists come from the Makefile unless
# SANITIZE_REGRESS / SANITIZE_ISOLATION override them.
run_installcheck() {
	local label="$1" rc=0 before
	shift
	before="$(grep -cE '\.\.\. (FAILED|failed)( |$)' "$INSTALLCHECK_LOG" || true)"
	env -u LD_PRELOAD PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres \
		make -C "$SRC" installcheck PG_CONFIG="$SYS_PG_CONFIG" PGUSER=postgres "$@" 2>&1 |
		tee -a "$INSTALLCHECK_LOG" || rc=$?
	if [[ $rc -ne 0 && "$(grep -cE '\.\.\. (FAILED|failed)( |$)' "$INSTALLCHECK_LOG" || true)" -eq "$before" ]]; then
		opsmeter_err "make installcheck ($label) exited $rc without a FAILED test (setup error?)"
		FAILED=$((FAILED + 1))
	fi
}
regress_args=("ISOLATION=")
[[ -n "${SANITIZE_REGRESS+x}" ]] && regress_args+=("REGRESS=$SANITIZE_REGRESS")
isolation_args=("REGRESS=")
[[ -n "${SANITIZE_ISOLATION+x}" ]] && isolation_args+=("ISOLATION=$SANITIZE_ISOLATION")
run_installcheck "pg_regress" "${regress_args[@]}"
run_installcheck "isolation" "${isolation_args[@]}"
PASSED="$(grep -cE '\.\.\. ok( |$)' "$INSTALLCHECK_LOG" || true)"
FAILED=$((FAILED + $(grep -cE '\.\.\. (FAILED|failed)( |$)' "$INSTALLCHECK_LOG" || true)))
for diffs in "$SRC/regression.diffs" "$SRC/output_iso/regression.diffs"; do
	if [[ -s "$diffs" ]]; then
		section "${diffs#"$SRC"/}"
		head -n 400 "$diffs"
	fi
done

# Stop cleanly so exit-time reports (backends, worker) are written too.
opsmeter_as_pg_owner "$PGBIN/pg_ctl" -D "$ROOT/data" -m fast -w -t 120 stop >/dev/null ||
	opsmeter_err "pg_ctl stop failed"

# ---------------------------------------------------------------------------
section "sanitizer reports"
# A report = one "runtime error:" line (UBSan) or one "ERROR: ...Sanitizer" line
# (ASan), in the log_path files or in server.log.  Any non-empty log_path file
# fails the run even if it matches neither.
REPORT_PATTERN='runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)'
REPORTS=0
nonempty=0
shopt -s nullglob
logs=("$SANLOG"/*)
shopt -u nullglob
for f in "${logs[@]}"; do
	[[ -s "$f" ]] || continue
	nonempty=$((nonempty + 1))
	REPORTS=$((REPORTS + $(grep -cE "$REPORT_PATTERN" "$f" || true)))
	printf -- '---- %s ----\n' "$f"
	cat "$f"
done
SAN_PATTERN="$REPORT_PATTERN|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|SUMMARY: "
if grep -qE "$SAN_PATTERN" "$ROOT/server.log"; then
	REPORTS=$((REPORTS + $(grep -cE "$REPORT_PATTERN" "$ROOT/server.log" || true)))
	printf -- '---- sanitizer lines in server.log (with context) ----\n'
	grep -nE -B2 -A30 "$SAN_PATTERN" "$ROOT/server.log" | head -n 400
	[[ $REPORTS -gt 0 ]] || REPORTS=1
fi
[[ $REPORTS -gt 0 || $nonempty -eq 0 ]] || REPORTS=$nonempty
CRASH_PATTERN='terminated by signal|terminating connection because of crash|was terminated by exception'
CRASHES="$(grep -cE "$CRASH_PATTERN" "$ROOT/server.log" || true)"
if [[ "$CRASHES" -gt 0 ]]; then
	printf -- '---- crash lines in server.log ----\n'
	grep -nE "$CRASH_PATTERN" "$ROOT/server.log" | head -n 50
fi
if [[ $REPORTS -eq 0 ]]; then
	echo "no sanitizer reports"
else
	# Which of our source lines the reports point at (report lines and stack frames).
	echo "---- opsmeter source lines named in the reports and their stacks (mentions, file:line) ----"
	cat "${logs[@]}" "$ROOT/server.log" 2>/dev/null |
		grep -oE '(/[^ :]*/)?src/[a-z_]+\.c:[0-9]+' | sed "s|^$SRC/||" |
		sort | uniq -c | sort -rn | head -n 30 || true
fi

NOW_SUM="$(sha256sum "$SYS_SO" 2>/dev/null | cut -d' ' -f1 || true)"
if [[ "$NOW_SUM" != "$SYS_SO_SUM" ]]; then
	opsmeter_err "WARNING: $SYS_SO changed during this run (not by this script's installs, which went to $PGROOT)"
fi

# ---------------------------------------------------------------------------
STATUS=0
if [[ $FAILED -gt 0 || $REPORTS -gt 0 || $CRASHES -gt 0 ]]; then
	STATUS=1
fi
section "cleanup"
opsmeter_cleanup_now "$STATUS"
section "summary"
[[ -n "$PLANT" ]] && echo "(SANITIZE_PLANT_BUG=$PLANT: a deliberate bug was planted; this run must fail)"
echo "$PASSED passed, $FAILED failed, $REPORTS sanitizer report(s), $CRASHES crash line(s), $((SECONDS - T0))s"
exit "$STATUS"
