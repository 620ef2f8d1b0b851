#!/usr/bin/env bash
# build.sh OUT PKG [LDFLAGS]: go build PKG into OUT, saying what happens meanwhile.
#
# A first build on an empty Go cache compiles a few hundred packages (the AWS SDK, gRPC, the
# Docker client) and takes a minute or two on a small machine; without a word that looks hung.
# So this prints what it does, counts the packages `go build -v` reports as it compiles them
# (on one rewritten line on a terminal, every 50 otherwise), and passes everything else —
# compile errors — through. A warm cache compiles nothing and prints only the first line.
set -euo pipefail

out=$1 pkg=$2 ldflags=${3:-}
total=$(${GO:-go} list -deps "$pkg" | wc -l)
printf 'building %s (%s packages; a first build compiles them all, a minute or two, later ones take seconds)\n' \
	"${out#"$PWD"/}" "$total" >&2

start=$SECONDS
count() {
	local n=0 line
	while IFS= read -r line; do
		case $line in
		*' '* | *:*) printf '%s\n' "$line" >&2 ;; # "# pkg" and file:line: errors, not a package path
		*)
			n=$((n + 1))
			if [ -t 2 ]; then
				printf '\r  compiled %d/%d packages' "$n" "$total" >&2
			elif ((n % 50 == 0)); then
				printf '  compiled %d/%d packages\n' "$n" "$total" >&2
			fi
			;;
		esac
	done
	if ((n > 1)); then # one is the command itself, relinked
		printf '%s  compiled %d packages in %ds\n' "$([ -t 2 ] && printf '\r' || true)" "$n" $((SECONDS - start)) >&2
	fi
}

set +e
"${GO:-go}" build -v -ldflags "$ldflags" -o "$out" "$pkg" 2>&1 | count
status=${PIPESTATUS[0]}
exit "$status"
