#!/usr/bin/env bash
# Fetch the Apache Kafka jars that kprod's real-Kafka tests run (the broker,
# the console tools and a logging backend; versions pinned in pom.xml) into a
# cache folder outside the repository:
#
#   ${KPROD_KAFKA_HOME:-$HOME/.cache/kprod/kafka-4.4.0}/lib
#
# Tests and examples look in the same place. Running it again does nothing
# once the folder is complete; FORCE=1 fetches anew.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

version=4.4.0
home="${KPROD_KAFKA_HOME:-$HOME/.cache/kprod/kafka-$version}"
lib="$home/lib"
stamp="$lib/.complete"
want="kafka_2.13-$version.jar"

if [ "${FORCE:-}" != 1 ] && [ -f "$stamp" ] && [ -f "$lib/$want" ] &&
	cmp -s "$stamp" "$here/pom.xml"; then
	echo "kafka jars: $lib (cached)"
	exit 0
fi

command -v mvn >/dev/null 2>&1 || { echo "fetch.sh: mvn (Maven) is needed" >&2; exit 1; }

# Copy into a temporary folder beside the cache, then swap it in, so an
# interrupted fetch never leaves a half-filled lib/ that looks complete.
mkdir -p "$home"
tmp="$(mktemp -d "$home/lib.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# (Debian's mvn prints colour resets even with -B; strip them.)
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
	-DoutputDirectory="$tmp" -DincludeScope=runtime 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
[ -f "$tmp/$want" ] || { echo "fetch.sh: $want missing after mvn" >&2; exit 1; }
cp "$here/pom.xml" "$tmp/.complete"
rm -rf "$lib"
mv "$tmp" "$lib"
trap - EXIT
echo "kafka jars: $lib ($(ls "$lib" | wc -l) jars, $(du -sh "$lib" | cut -f1))"
