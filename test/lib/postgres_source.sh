#!/usr/bin/env bash
# test/lib/postgres_source.sh — a PostgreSQL major built from Debian's source
# package, cached outside the repository and reused by later runs.
#
#   bash test/lib/postgres_source.sh MAJOR     (17 or 18)
#
# On success the last line printed is the pg_config of that build; the exit
# status is 0.  When the sources cannot be had (no archive reachable, no such
# package), it prints one line starting with
# "opsmeter: PostgreSQL MAJOR unavailable:" and exits 3, so callers can run
# the other versions alone.  A build that fails once the sources are
# unpacked exits 1: that is a fault to fix, not a version to skip.
#
# Debian 12 ships only PostgreSQL 15.  Debian's archive has the sources of
# newer majors in newer suites: 17 in trixie, 18 in sid.  We fetch them with
# `apt-get source` through a private sources list and a private state
# directory, reusing the archive URI already configured on this machine: we
# name no host, and never touch the machine's own apt configuration.  The
# upstream tarball inside the source package is built with a plain
# `configure && make install` (no Debian patches, no packaging).
#
# Cache: $OPSMETER_PG_CACHE (default /var/cache/opsmeter/postgresql as root,
# ~/.cache/opsmeter/postgresql otherwise), one folder per major:
#   MAJOR/install/          the installed build (bin/pg_config, pgxs, ...)
#   MAJOR/install/.opsmeter-built   the Debian source version it came from
# A cached build is reused as it is; delete the folder to rebuild.
set -euo pipefail

major="${1:-}"
case "$major" in
17) suite=trixie ;;
18) suite=sid ;;
*)
	echo "usage: $0 17|18" >&2
	exit 2
	;;
esac

unavailable() {
	echo "opsmeter: PostgreSQL $major unavailable: $*"
	exit 3
}

if [[ "$(id -u)" -eq 0 ]]; then
	cache="${OPSMETER_PG_CACHE:-/var/cache/opsmeter/postgresql}"
else
	cache="${OPSMETER_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/opsmeter/postgresql}"
fi
dir="$cache/$major"
prefix="$dir/install"

if [[ -x "$prefix/bin/pg_config" && -f "$prefix/.opsmeter-built" ]]; then
	echo "opsmeter: PostgreSQL $major: cached build $(cat "$prefix/.opsmeter-built") in $prefix"
	echo "$prefix/bin/pg_config"
	exit 0
fi

# --- build dependencies (Debian package names) -------------------------------
build_deps=(gcc make bison flex perl pkg-config zlib1g-dev libreadline-dev libicu-dev dpkg-dev xz-utils bzip2)
missing=()
for pkg in "${build_deps[@]}"; do
	if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
	if [[ "$(id -u)" -ne 0 ]]; then
		unavailable "missing build packages (${missing[*]}); run as root: apt-get install ${missing[*]}"
	fi
	echo "opsmeter: installing build packages for PostgreSQL $major: ${missing[*]}"
	# A fresh machine may not have read the archive's package lists yet.
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
		unavailable "apt-get install ${missing[*]} failed"
fi

# --- the archive URI this machine already uses --------------------------------
# The first non-security Debian archive named in the machine's own sources,
# in deb822 (*.sources: "URIs:") or one-line (*.list: "deb URI suite ...") form.
archive_uri() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" ]] || continue
		awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f "$f" ]] || continue
		awk '$1 == "deb" || $1 == "deb-src" {
			for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i ~ /:\/\//) { print $i; break }
		}' "$f"
	done
}
uri="$(archive_uri | grep -v -- '-security' | grep -m1 '/debian/\?$' || true)"
[[ -n "$uri" ]] || unavailable "no Debian archive URI in this machine's apt sources"

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r "$keyring" ]] || unavailable "$keyring missing (package debian-archive-keyring)"

# --- private apt: its own sources list, lists, cache; the machine's untouched --
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc"
echo "deb-src [signed-by=$keyring] $uri $suite main" >"$apt_dir/etc/sources-$major.list"
apt_opts=(
	-o "Dir::Etc::sourcelist=$apt_dir/etc/sources-$major.list"
	-o "Dir::Etc::sourceparts=/nonexistent"
	-o "Dir::State=$apt_dir"
	-o "Dir::State::lists=$apt_dir/lists/$major"
	-o "Dir::State::status=/var/lib/dpkg/status"
	-o "Dir::Cache=$apt_dir"
	-o "APT::Sandbox::User=root"
	-o "Acquire::Retries=2"
)
mkdir -p "$apt_dir/lists/$major/partial"

echo "opsmeter: PostgreSQL $major: fetching source package postgresql-$major ($suite)"
apt-get "${apt_opts[@]}" -q update >"$apt_dir/update-$major.log" 2>&1 ||
	unavailable "apt-get update of the $suite sources failed ($(tail -n 1 "$apt_dir/update-$major.log"))"
version="$(apt-cache "${apt_opts[@]}" showsrc "postgresql-$major" 2>/dev/null |
	awk '$1 == "Version:" { print $2; exit }')"
[[ -n "$version" ]] || unavailable "no source package postgresql-$major in $suite"

rm -rf "$dir/src"
mkdir -p "$dir/src"
srcdir=""
# The version the suite's signed index lists; apt verifies its files against
# that index.
if (cd "$dir/src" && apt-get "${apt_opts[@]}" -q source --download-only "postgresql-$major=$version") \
	>"$dir/fetch.log" 2>&1; then
	orig="$(find "$dir/src" -maxdepth 1 -name "postgresql-${major}_*.orig.tar.*" | head -n 1)"
	[[ -n "$orig" ]] || unavailable "no upstream tarball in the source package"
	tar -C "$dir/src" -xf "$orig"
	srcdir="$(find "$dir/src" -mindepth 1 -maxdepth 1 -type d -name "postgresql-*" | head -n 1)"
else
	# Seen on this workplace's archive: the index lists a point release
	# whose files the pool does not serve (404).  Fall back to the two
	# previous point releases of the same Debian revision, which a pool
	# keeps while any suite or update still refers to them.  Nothing here is
	# vouched for by the index, so dpkg-source must find a valid Debian
	# developer signature on the .dsc (keyring: package debian-keyring)
	# and checks every file's checksum against it.
	echo "opsmeter: PostgreSQL $major: $version is listed but not served ($(grep -m1 -oE '[0-9]{3} +[A-Za-z ]+' "$dir/fetch.log" || tail -n 1 "$dir/fetch.log")); trying older point releases"
	if [[ "$(dpkg-query -W -f='${Status}' debian-keyring 2>/dev/null || true)" != "install ok installed" ]]; then
		[[ "$(id -u)" -eq 0 ]] || unavailable "$version not served, and verifying an older one needs package debian-keyring"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debian-keyring >/dev/null ||
			unavailable "$version not served, and apt-get install debian-keyring failed"
	fi
	pool="$(apt-cache "${apt_opts[@]}" showsrc "postgresql-$major" | awk '$1 == "Directory:" { print $2; exit }')"
	upstream="${version%%-*}"      # 17.12
	revision="${version#"$upstream"}" # -0+deb13u1
	minor="${upstream#*.}"
	for ((m = minor - 1; m >= minor - 2 && m >= 0; m--)); do
		candidate="$major.$m$revision"
		dsc="postgresql-${major}_${candidate}.dsc"
		/usr/lib/apt/apt-helper download-file "$uri/$pool/$dsc" "$dir/src/$dsc" >>"$dir/fetch.log" 2>&1 || continue
		ok=1
		for f in $(awk '/^Files:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $3 }' "$dir/src/$dsc"); do
			/usr/lib/apt/apt-helper download-file "$uri/$pool/$f" "$dir/src/$f" >>"$dir/fetch.log" 2>&1 || { ok=0; break; }
		done
		[[ $ok -eq 1 ]] || continue
		if (cd "$dir/src" && dpkg-source --require-valid-signature --skip-patches -x "$dsc" "postgresql-$major.$m") \
			>>"$dir/fetch.log" 2>&1; then
			version="$candidate"
			srcdir="$dir/src/postgresql-$major.$m"
			break
		fi
		unavailable "$candidate: dpkg-source refused it (signature or checksum; see $dir/fetch.log)"
	done
	[[ -n "$srcdir" ]] || unavailable "neither $version nor the two point releases before it are served by the archive"
fi
[[ -n "$srcdir" && -d "$srcdir" ]] || unavailable "the source package did not unpack"

# --- plain configure && make install ------------------------------------------
jobs="$(nproc 2>/dev/null || echo 2)"
echo "opsmeter: PostgreSQL $major: building $version from $srcdir into $prefix (log: $dir/build.log)"
start=$SECONDS
rm -rf "$prefix"
# PostgreSQL's makefiles generate their headers (utils/errcodes.h, ...) only
# in a make at MAKELEVEL 0.  Under `make test` this script inherits
# MAKELEVEL=1 (and the outer make's MAKEFLAGS), so the build must start as a
# top-level make of its own, or it compiles before those headers exist.
if ! (
	unset MAKELEVEL MAKEFLAGS MFLAGS MAKEOVERRIDES GNUMAKEFLAGS
	cd "$srcdir" &&
		./configure --prefix="$prefix" --without-icu --with-readline --with-zlib \
			--enable-tap-tests=no &&
		make -j"$jobs" -s &&
		make -s install &&
		make -C src/test/isolation -s install
) >"$dir/build.log" 2>&1; then
	tail -n 20 "$dir/build.log"
	# Not "unavailable": the sources were had, so a failed build is a fault
	# of this script or of the machine, and must fail the run.
	echo "opsmeter: PostgreSQL $major: build of $version FAILED (log: $dir/build.log)" >&2
	exit 1
fi
echo "$version" >"$prefix/.opsmeter-built"
rm -rf "$dir/src"
echo "opsmeter: PostgreSQL $major: built $version in $((SECONDS - start)) s"
echo "$prefix/bin/pg_config"
