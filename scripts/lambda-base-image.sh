#!/usr/bin/env bash
# Seeds the base image `sam local` runs functions in, public.ecr.aws/lambda/provided:al2023-<arch>,
# on a machine that cannot pull it (no container registry): a root filesystem of Debian's static
# busybox (busybox-static), imported under that tag. It is enough for narwhal's functions, whose
# bootstrap is a static binary; SAM adds the runtime interface emulator on top with a small
# Dockerfile whose RUN steps need only a shell, and internal/lambdatest's container test mounts
# the emulator itself. An image already there under the tag (seeded, or pulled from ECR) is left.
#
# Usage: scripts/lambda-base-image.sh [arm64|x86_64]   (default: this machine's), prints the tag.
set -euo pipefail

arch=${1:-}
if [ -z "$arch" ]; then
	case $(uname -m) in
	x86_64 | amd64) arch=x86_64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) echo "lambda-base-image: no Lambda architecture for $(uname -m)" >&2; exit 1 ;;
	esac
fi
case $arch in arm64 | x86_64) ;; *) echo "lambda-base-image: architecture must be arm64 or x86_64, not $arch" >&2; exit 2 ;; esac
tag=public.ecr.aws/lambda/provided:al2023-$arch

if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "$tag"
	exit 0
fi
host=$(uname -m)
case "$arch/$host" in x86_64/x86_64 | arm64/aarch64 | arm64/arm64) ;; *)
	echo "lambda-base-image: a busybox of this machine ($host) cannot seed the $arch image; pull $tag instead" >&2
	exit 1 ;;
esac
busybox=${BUSYBOX:-/bin/busybox}
if ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
	echo "lambda-base-image: $busybox must be a static busybox (apt-get install busybox-static)" >&2
	exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# The directories Lambda's provided images have: /var/task (the function, mounted by sam),
# /var/runtime and /opt (layers), /var/rapid (the emulator), /tmp (the one writable place).
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/var/task" "$root/var/runtime" "$root/var/rapid" "$root/opt" "$root/root"
cp "$busybox" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin' >>"$root/etc/passwd"
printf 'root:x:0:\nsbx_user1051:x:990:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
tar -C "$root" -c . | docker import \
	-c 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime' \
	-c 'WORKDIR /var/task' -c 'ENTRYPOINT ["/var/rapid/aws-lambda-rie"]' \
	-m "narwhal: static busybox standing in for the Lambda provided.al2023 base image" - "$tag" >/dev/null
echo "$tag"
