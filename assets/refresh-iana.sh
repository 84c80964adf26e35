#!/usr/bin/env bash
# Replaces service-names-port-numbers.csv (next to this script) with the current copy of IANA's
# Service Name and Transport Protocol Port Number Registry, but only after checking that what
# arrived really is that registry. A failed or partial download never touches the asset.
#
# Usage:
#   assets/refresh-iana.sh          download from IANA, check, replace
#   assets/refresh-iana.sh FILE     check FILE (downloaded some other way) and install it
#
# Afterwards: run `cargo test`, update the row count and newest date in assets/README.md (this
# script prints both), and commit the two files together. The date portscope shows for its
# registry data is that newest date, read from the file at run time: it follows by itself.
# (tests/ephemeral_risk.rs checks that it matches the newest date in assets/README.md.)

set -euo pipefail

readonly URL='https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.csv'
readonly EXPECTED_HEADER='Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes'
readonly MIN_ROWS=10000

die() {
    printf 'refresh-iana: %s\n' "$*" >&2
    exit 1
}

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
readonly target="$here/service-names-port-numbers.csv"

# The temporary file lives next to the target so that the final mv is an atomic rename.
tmp=$(mktemp "$here/.service-names-port-numbers.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT

if [[ $# -gt 1 ]]; then
    die "usage: $0 [FILE]"
elif [[ $# -eq 1 ]]; then
    [[ -f $1 && -r $1 ]] || die "cannot read $1"
    cp -- "$1" "$tmp"
elif command -v curl >/dev/null 2>&1; then
    echo "Downloading $URL"
    curl --fail --silent --show-error --location --proto '=https' --max-time 300 --retry 2 \
        --output "$tmp" -- "$URL" || die "download failed"
elif command -v wget >/dev/null 2>&1; then
    echo "Downloading $URL"
    wget --quiet --https-only --timeout=60 --tries=3 --output-document="$tmp" -- "$URL" \
        || die "download failed"
else
    die "neither curl nor wget is installed"
fi

[[ -s $tmp ]] || die "the file is empty"

# The header must be exactly IANA's, ignoring a byte-order mark and a CRLF line ending.
IFS= read -r header <"$tmp" || true
header=${header#$'\xEF\xBB\xBF'}
header=${header%$'\r'}
[[ $header == "$EXPECTED_HEADER" ]] \
    || die "unexpected header line (not IANA's CSV, or the format changed): ${header:0:200}"

# The loader reads UTF-8; reject anything else here rather than lose rows later.
if command -v iconv >/dev/null 2>&1; then
    iconv -f UTF-8 -t UTF-8 -- "$tmp" >/dev/null 2>&1 || die "the file is not valid UTF-8"
fi

# Count records, not lines: quoted fields may contain newlines. A record ends at a line end
# where the number of double quotes seen so far is even (an escaped quote is two quotes).
rows=$(LC_ALL=C awk '
    { quotes += gsub(/"/, "\"") }
    quotes % 2 == 0 { records++; quotes = 0 }
    END {
        if (quotes % 2 != 0) { print "unbalanced"; exit }
        print records - 1
    }' "$tmp")
[[ $rows != unbalanced ]] || die "the file ends inside a quoted field (truncated download?)"
((rows > MIN_ROWS)) || die "only $rows rows; expected more than $MIN_ROWS (truncated download?)"

newest=$(LC_ALL=C grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' -- "$tmp" | sort | tail -n 1 || true)

if [[ -f $target ]] && cmp -s -- "$tmp" "$target"; then
    echo "Already up to date: $rows rows, newest date $newest."
    exit 0
fi

chmod 644 -- "$tmp"
mv -f -- "$tmp" "$target"
trap - EXIT
echo "Replaced $target"
echo "  rows: $rows"
echo "  newest date in the file: ${newest:-unknown}"
echo "Next: run cargo test, then update assets/README.md with the figures above."
