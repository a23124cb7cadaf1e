#!/usr/bin/env bash
# test/lint/check_layers.sh — the C modules include one another one way only.
#
#   bash test/lint/check_layers.sh        (make check-layers)
#
# Every C file and header belongs to a module, and every module to a layer
# (src/README.md, "Layers").  A file may include the headers of its own
# module and of modules in lower layers, never of its own layer or above: so
# there is no include cycle and no module calls up.  A file or header that
# is not in the table below fails the check, so a new module has to be given
# its place.  Exits 1 listing every offending #include.
set -euo pipefail
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# module layer (lowest first); a file's module is its basename, except
# price_loader.c, which is part of pricing.
declare -A LAYER=(
	[compat]=0 [json_scan]=0 [json_text]=0
	[catalog]=1 [labels]=1 [jsonc]=1 [histogram]=1 [exact_sums]=1 [label_keys]=1
	[guc]=2
	[tenancy]=3 [pricing]=3 [event]=3 [key_filter]=3
	[storage]=4
	[budget]=5
	[ingest]=6
	[ingest_jsonb]=7 [ingest_ndjson]=7 [ingest_otlp]=7 [retention]=7 [rollup_groups]=7
	[worker]=8 [filters]=8 [reader]=8 [detail_sums]=8
	[opsmeter]=9
)
module_of() {
	local base
	base="$(basename "$1")"
	base="${base%.*}"
	case "$base" in
	price_loader) echo pricing ;;
	*) echo "$base" ;;
	esac
}

bad=0
checked=0
for f in "$REPO"/src/*.c "$REPO"/include/*.h; do
	m="$(module_of "$f")"
	if [[ -z "${LAYER[$m]+set}" ]]; then
		echo "check-layers: ${f#"$REPO"/}: module '$m' has no layer (add it to test/lint/check_layers.sh and src/README.md)" >&2
		bad=1
		continue
	fi
	while IFS= read -r hdr; do
		checked=$((checked + 1))
		hm="$(module_of "$hdr")"
		if [[ -z "${LAYER[$hm]+set}" ]]; then
			echo "check-layers: ${f#"$REPO"/} includes \"$hdr\", whose module '$hm' has no layer" >&2
			bad=1
		elif [[ "$hm" != "$m" && ${LAYER[$hm]} -ge ${LAYER[$m]} ]]; then
			echo "check-layers: ${f#"$REPO"/} (layer ${LAYER[$m]}, $m) includes \"$hdr\" (layer ${LAYER[$hm]}, $hm): only lower layers may be included" >&2
			bad=1
		fi
	done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$f" |
		while read -r h; do [[ -f "$REPO/include/$h" ]] && echo "$h"; done)
done
if [[ $bad -ne 0 ]]; then
	exit 1
fi
echo "check-layers: $checked opsmeter #includes, all one way (own module or a lower layer)"
