#!/usr/bin/env bash
# make sam-local: the AWS SAM CLI path of localstack/README.md, checked. Builds both functions
# for this machine's architecture (ARCHITECTURE and the template's Architecture parameter
# together), then runs `sam local invoke` for every sample of events/ against the LocalStack
# compose stack and judges each answer by its content (status code and JSON, by
# internal/samevents) — `sam local invoke` exits 0 even when the function failed or never
# answered. Where no container registry is reachable it seeds the base image
# public.ecr.aws/lambda/provided:al2023-<arch> from a static busybox
# (scripts/lambda-base-image.sh) and invokes with --skip-pull-image; the compose stack's own
# images (localstack/localstack, rabbitmq) must then be on the machine already.
#
# Without `sam` on PATH it says so and fails; with SAM_OPTIONAL=1 it says so and succeeds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'sam-local: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if ! command -v sam >/dev/null 2>&1; then
	say "the AWS SAM CLI (sam) is not on PATH, so nothing was built or invoked."
	say "install it: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html"
	say "(internal/lambdatest's TestSAMContainerLayout checks the same container layout without SAM)"
	[ "${SAM_OPTIONAL:-}" = 1 ] && exit 0
	exit 1
fi
docker info >/dev/null 2>&1 || die "Docker is not running; sam local needs it"

case $(uname -m) in
x86_64 | amd64) arch=x86_64 ;;
aarch64 | arm64) arch=arm64 ;;
*) die "no Lambda architecture for $(uname -m)" ;;
esac
base=public.ecr.aws/lambda/provided:al2023-$arch
if ! docker image inspect "$base" >/dev/null 2>&1; then
	say "pulling $base"
	timeout 180 docker pull "$base" >/dev/null 2>&1 || {
		say "cannot pull $base (no registry?): seeding it from a static busybox"
		scripts/lambda-base-image.sh "$arch" >/dev/null
	}
fi

say "starting LocalStack and RabbitMQ (localstack/docker-compose.yml)"
docker compose -f localstack/docker-compose.yml up -d --wait ||
	die "the compose stack did not start (its images must be pulled once where a registry is reachable)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/samcheck" ./internal/samevents/samcheck
# The dispatcher needs a runner CA: a throw-away one, put into a copy of env.json.
go run ./cmd/narwhal runner-cert --dir "$work/runner" --host host.docker.internal >/dev/null
"$work/samcheck" setenv localstack/env.json "NARWHAL_RUNNER_CA=$(base64 -w0 "$work/runner/runner.crt")" >"$work/env.json"

say "sam build for $arch"
ARCHITECTURE=$arch sam build --parameter-overrides "Architecture=$arch" >"$work/build.log" 2>&1 ||
	{ cat "$work/build.log" >&2; die "sam build failed"; }

failed=0
while read -r fn event; do
	answer=$(sam local invoke "$fn" -e "$event" --env-vars "$work/env.json" --docker-network narwhal-local \
		--skip-pull-image --parameter-overrides "Architecture=$arch" 2>"$work/invoke.log") || true
	if ! printf '%s' "$answer" | "$work/samcheck" check "$event"; then
		failed=1
		say "$fn $event answered: ${answer:-(nothing)}"
		tail -n 30 "$work/invoke.log" >&2
	fi
done < <("$work/samcheck" list events)
[ "$failed" = 0 ] || die "some answers were wrong (see above)"
say "every sample of events/ answered as it should"
