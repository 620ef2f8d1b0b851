#!/usr/bin/env bash
# teststack.sh brings up what narwhal's tests talk to, on a fresh Debian machine or a warm one:
#
#   Docker Engine       Debian docker.io; dockerd started when no daemon answers
#   test image          narwhal-test/busybox:1, imported from Debian's busybox-static (no registry here)
#   RabbitMQ            a private node on 127.0.0.1:5682 (user narwhal/narwhal), state under $STACK_DIR
#   moto_server         DynamoDB, S3 and Secrets Manager on 127.0.0.1:5000
#
# Usage: scripts/teststack.sh up | docker | env | rabbitmq-stop | rabbitmq-start | down
# `docker` does only the Docker part (what `make run` needs).
# `up` is idempotent: whatever already answers is left alone. `env` prints the variables the tests read.
set -euo pipefail

STACK_DIR=${NARWHAL_STACK_DIR:-/tmp/narwhal-teststack}
TEST_IMAGE=narwhal-test/busybox:1
EXAMPLE_IMAGE=busybox:1.36
RABBIT_NODE=narwhal-test@localhost
RABBIT_PORT=5682
MOTO_PORT=5000
RABBITMQCTL=/usr/lib/rabbitmq/bin/rabbitmqctl

log() { printf 'teststack: %s\n' "$*" >&2; }

need_pkgs() {
	local missing=()
	command -v dockerd >/dev/null || missing+=(docker.io)
	[ -x /bin/busybox ] || missing+=(busybox-static)
	[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
	command -v git >/dev/null || missing+=(git)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

docker_up() {
	if ! docker info >/dev/null 2>&1; then
		log "starting dockerd"
		(setsid dockerd >/var/log/narwhal-dockerd.log 2>&1 &)
		for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
		docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/narwhal-dockerd.log"; exit 1; }
	fi
	if ! docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
		log "importing $TEST_IMAGE from busybox-static"
		local root; root=$(mktemp -d)
		mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root"
		cp /bin/busybox "$root/bin/"
		for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
		echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
		echo 'root:x:0:' >"$root/etc/group"
		chmod 1777 "$root/tmp"
		tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' - "$TEST_IMAGE" >/dev/null
		rm -rf "$root"
	fi
	# examples/hello names busybox:1.36; with no registry reachable, seed that tag locally.
	docker image inspect "$EXAMPLE_IMAGE" >/dev/null 2>&1 || docker tag "$TEST_IMAGE" "$EXAMPLE_IMAGE"
}

rabbit_env() {
	export HOME=$STACK_DIR/rabbitmq RABBITMQ_NODENAME=$RABBIT_NODE RABBITMQ_NODE_PORT=$RABBIT_PORT \
		RABBITMQ_DIST_PORT=25682 RABBITMQ_CONFIG_FILE=$STACK_DIR/rabbitmq/rabbitmq.conf \
		RABBITMQ_ENABLED_PLUGINS_FILE=$STACK_DIR/rabbitmq/enabled_plugins \
		RABBITMQ_MNESIA_BASE=$STACK_DIR/rabbitmq/mnesia RABBITMQ_LOG_BASE=$STACK_DIR/rabbitmq/log \
		RABBITMQ_PID_FILE=$STACK_DIR/rabbitmq/rabbit.pid
}

rabbit_start() {
	local d=$STACK_DIR/rabbitmq
	mkdir -p "$d"
	cat >"$d/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RABBIT_PORT
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = 25682
distribution.listener.port_range.max = 25682
loopback_users = none
default_user = narwhal
default_pass = narwhal
CONF
	echo '[].' >"$d/enabled_plugins"
	(
		rabbit_env
		if ! "$RABBITMQCTL" -n "$RABBIT_NODE" status >/dev/null 2>&1; then
			log "starting RabbitMQ node $RABBIT_NODE on :$RABBIT_PORT"
			/usr/lib/rabbitmq/bin/rabbitmq-server -detached
			"$RABBITMQCTL" -n "$RABBIT_NODE" wait --timeout 90 "$RABBITMQ_PID_FILE" >/dev/null
		fi
		# The node may answer before its listener does.
		for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/$RABBIT_PORT) 2>/dev/null && break; sleep 0.5; done
	)
}

rabbit_stop() {
	(rabbit_env; "$RABBITMQCTL" -n "$RABBIT_NODE" stop >/dev/null 2>&1 || true)
}

moto_up() {
	if ! curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; then
		log "starting moto_server on :$MOTO_PORT"
		mkdir -p "$STACK_DIR"
		(setsid moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$STACK_DIR/moto.log" 2>&1 &)
		for _ in $(seq 1 60); do curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null && break; sleep 0.5; done
		curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" || { log "moto_server did not start"; exit 1; }
	fi
}

print_env() {
	cat <<ENV
export NARWHAL_TEST_IMAGE=$TEST_IMAGE
export NARWHAL_TEST_AMQP_URL=amqp://narwhal:narwhal@127.0.0.1:$RABBIT_PORT/
export NARWHAL_TEST_RABBITMQ_CTL="$(cd "$(dirname "$0")" && pwd)/teststack.sh"
export NARWHAL_TEST_AWS_ENDPOINT=http://127.0.0.1:$MOTO_PORT
ENV
}

case "${1:-up}" in
up)
	[ "$(id -u)" = 0 ] && need_pkgs
	docker_up
	rabbit_start
	moto_up
	;;
docker)
	[ "$(id -u)" = 0 ] && need_pkgs
	docker_up
	;;
env) print_env ;;
rabbitmq-stop) rabbit_stop ;;
rabbitmq-start) rabbit_start ;;
down)
	rabbit_stop
	pkill -f "moto_server -H 127.0.0.1 -p $MOTO_PORT" || true
	;;
*) echo "usage: $0 up|docker|env|rabbitmq-stop|rabbitmq-start|down" >&2; exit 2 ;;
esac
