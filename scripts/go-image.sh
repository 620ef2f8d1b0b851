#!/usr/bin/env bash
# go-image.sh makes what the Go cache benchmark (issue 14, BenchmarkGoCache in internal/devstack)
# runs, without a registry or a network inside the containers:
#
#   image        narwhal-bench/go:<go version>: Debian's static busybox, the machine's Go toolchain
#                at /usr/local/go (without its own tests, api, doc, misc, src/cmd and testdata, which
#                go build, vet and test do not read), /etc/passwd, /tmp and the CA certificates,
#                imported with `docker import`; PATH=/usr/local/go/bin:/bin, HOME=/tmp,
#                GOFLAGS=-mod=vendor, GOTOOLCHAIN=local, GOPROXY=off, CGO_ENABLED=0. Built only when
#                no image of this Go version and recipe exists; prints the image's name.
#   module DIR   a git repository in DIR (new or empty) holding the workload: a copy of
#                $BENCH_MODULE (default github.com/prometheus/client_golang@v1.25.0) from the
#                module cache with its dependencies vendored on the host (`go mod vendor`, which
#                downloads through the Go module proxy what the cache lacks), committed.
#
# Usage: scripts/go-image.sh [image] | module DIR
set -euo pipefail

RECIPE=1 # bump when the image's contents change, so that an older import is rebuilt
BENCH_MODULE=${BENCH_MODULE:-github.com/prometheus/client_golang@v1.25.0}

log() { printf 'go-image: %s\n' "$*" >&2; }

# image builds the toolchain image unless one of this Go version and recipe exists.
image() {
	local goroot version name root
	goroot=$(go env GOROOT); version=$(go env GOVERSION)
	name=narwhal-bench/go:${version#go}
	if [ "$(docker image inspect -f '{{index .Config.Labels "io.narwhal.recipe"}}' "$name" 2>/dev/null)" = "$RECIPE" ]; then
		echo "$name"; return
	fi
	[ -x /bin/busybox ] || { log "/bin/busybox missing: apt-get install busybox-static (scripts/teststack.sh up does)"; exit 1; }
	log "importing $name from $goroot and busybox-static"
	root=$(mktemp -d); trap 'rm -rf "$root"' RETURN
	mkdir -p "$root/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/root" "$root/usr/local/go"
	cp /bin/busybox "$root/bin/"
	for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	chmod 1777 "$root/tmp"
	if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"; fi
	tar -C "$goroot" --exclude=./test --exclude=./api --exclude=./doc --exclude=./misc \
		--exclude=./src/cmd --exclude=testdata -c . | tar -C "$root/usr/local/go" -x
	tar -C "$root" -c . | docker import \
		-c 'ENV PATH=/usr/local/go/bin:/bin' -c 'ENV HOME=/tmp' -c 'ENV GOFLAGS=-mod=vendor' \
		-c 'ENV GOTOOLCHAIN=local' -c 'ENV GOPROXY=off' -c 'ENV CGO_ENABLED=0' \
		-c "LABEL io.narwhal.recipe=$RECIPE" - "$name" >/dev/null
	docker run --rm "$name" go version >&2
	echo "$name"
}

# module copies $BENCH_MODULE into the git repository $1, vendors its dependencies and commits.
module() {
	local dir=$1 src
	[ -n "$dir" ] || { log "usage: go-image.sh module DIR"; exit 2; }
	src=$(go mod download -json "$BENCH_MODULE" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$src" ] || { log "go mod download $BENCH_MODULE gave no directory"; exit 1; }
	mkdir -p "$dir"
	cp -R "$src/." "$dir"
	chmod -R u+w "$dir" # the module cache is read-only
	(cd "$dir" && GOFLAGS=-mod=mod go mod vendor)
	git -C "$dir" init -q -b main
	git -C "$dir" add -A
	git -C "$dir" add -f vendor # a library's .gitignore often leaves vendor/ out
	git -C "$dir" -c user.name=bench -c user.email=bench@narwhal.invalid commit -q -m "workload: $BENCH_MODULE, vendored"
	log "workload $BENCH_MODULE in $dir ($(du -sh "$dir" | cut -f1))"
}

case ${1:-image} in
image) image ;;
module) module "${2:-}" ;;
*) log "usage: go-image.sh [image] | module DIR"; exit 2 ;;
esac
