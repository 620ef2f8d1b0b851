#!/usr/bin/env bash
# teststack.sh brings up what narwhal's tests talk to, on a fresh Debian machine or a warm one:
#
#   Docker Engine       Debian docker.io; dockerd started when no daemon answers
#   test image          narwhal-test/busybox:1, imported from Debian's busybox-static (no registry here)
#   RabbitMQ            private nodes on 127.0.0.1:5682 and :5683 (user narwhal/narwhal), state under $STACK_DIR
#   moto_server         DynamoDB, S3 and Secrets Manager on 127.0.0.1:5000
#   chromium            Debian's, for the dashboard's headless browser test
#   private registry    Debian docker-registry on 127.0.0.1:5055, htpasswd auth, state under $STACK_DIR
#   git http-backend    part of Debian's git: the authenticated git server of internal/testenv/gitserver
#
# Usage: scripts/teststack.sh up | docker | env | rabbitmq-stop | rabbitmq-start | down
# rabbitmq-stop and rabbitmq-start act on the "restart" node only.
# `docker` does only the Docker part (what `make run` needs).
# `up` is idempotent: whatever already answers is left alone. `env` prints the variables the tests read.
set -euo pipefail

STACK_DIR=${NARWHAL_STACK_DIR:-/tmp/narwhal-teststack}
TEST_IMAGE=narwhal-test/busybox:1
EXAMPLE_IMAGE=busybox:1.36
MOTO_PORT=5000
REGISTRY_PORT=5055
REGISTRY_USER=narwhal-puller
REGISTRY_PASSWORD=narwhal-registry-pw
REGISTRY_DIR=$STACK_DIR/registry
RABBITMQCTL=/usr/lib/rabbitmq/bin/rabbitmqctl

log() { printf 'teststack: %s\n' "$*" >&2; }

need_pkgs() {
	local missing=()
	command -v dockerd >/dev/null || missing+=(docker.io)
	[ -x /bin/busybox ] || missing+=(busybox-static)
	[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
	command -v git >/dev/null || missing+=(git)
	[ -x /usr/bin/chromium ] || missing+=(chromium)   # the dashboard's browser test
	command -v systemd-analyze >/dev/null || missing+=(systemd)   # verifies infra/runnerd.service
	command -v docker-registry >/dev/null || missing+=(docker-registry)   # the private registry tests
	command -v htpasswd >/dev/null || missing+=(apache2-utils)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
		# Debian's registry service listens on :5000, moto_server's port: ours runs on its own.
		if [ -x /etc/init.d/docker-registry ]; then /etc/init.d/docker-registry stop >/dev/null 2>&1 || true; fi
	fi
}

docker_up() {
	# runnerd runs as an unprivileged member of the docker group (infra/runnerd.service); the tests
	# that run it so need the group and a socket open to it (dockerd gives it the group at start).
	getent group docker >/dev/null || groupadd --system docker
	if ! docker info >/dev/null 2>&1; then
		log "starting dockerd"
		(setsid dockerd >/var/log/narwhal-dockerd.log 2>&1 &)
		for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
		docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/narwhal-dockerd.log"; exit 1; }
	fi
	if [ -S /var/run/docker.sock ]; then chgrp docker /var/run/docker.sock && chmod g+rw /var/run/docker.sock; fi
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

# Two private RabbitMQ nodes: "main" for every test, and "restart", which the tests that stop and
# start a broker use under a lock (testenv.RestartableAMQPURL), so that a restart never disturbs the
# tests of other packages that `go test ./...` runs at the same time.
rabbit_vars() { # $1 = main | restart
	case $1 in
	main) R_NODE=narwhal-test@localhost R_PORT=5682 R_DIST=25682 ;;
	restart) R_NODE=narwhal-restart@localhost R_PORT=5683 R_DIST=25683 ;;
	*) log "unknown RabbitMQ node $1"; exit 2 ;;
	esac
	R_DIR=$STACK_DIR/rabbitmq-$1
}

rabbit_env() {
	export HOME=$R_DIR RABBITMQ_NODENAME=$R_NODE RABBITMQ_NODE_PORT=$R_PORT \
		RABBITMQ_DIST_PORT=$R_DIST RABBITMQ_CONFIG_FILE=$R_DIR/rabbitmq.conf \
		RABBITMQ_ENABLED_PLUGINS_FILE=$R_DIR/enabled_plugins \
		RABBITMQ_MNESIA_BASE=$R_DIR/mnesia RABBITMQ_LOG_BASE=$R_DIR/log \
		RABBITMQ_PID_FILE=$R_DIR/rabbit.pid
}

rabbit_start() { # $1 = main | restart
	rabbit_vars "$1"
	mkdir -p "$R_DIR"
	cat >"$R_DIR/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$R_PORT
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = $R_DIST
distribution.listener.port_range.max = $R_DIST
loopback_users = none
default_user = narwhal
default_pass = narwhal
CONF
	echo '[].' >"$R_DIR/enabled_plugins"
	(
		rabbit_env
		if ! "$RABBITMQCTL" -n "$R_NODE" status >/dev/null 2>&1; then
			log "starting RabbitMQ node $R_NODE on :$R_PORT"
			/usr/lib/rabbitmq/bin/rabbitmq-server -detached
			"$RABBITMQCTL" -n "$R_NODE" wait --timeout 90 "$RABBITMQ_PID_FILE" >/dev/null
		fi
		# The node may answer before its listener does.
		for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/$R_PORT) 2>/dev/null && break; sleep 0.5; done
	)
}

rabbit_stop() { # $1 = main | restart
	rabbit_vars "$1"
	(rabbit_env; "$RABBITMQCTL" -n "$R_NODE" stop >/dev/null 2>&1 || true)
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

# A private registry with password auth: plain http on 127.0.0.1, which
# dockerd treats as an insecure registry it may use without TLS.
registry_up() {
	local url="http://127.0.0.1:$REGISTRY_PORT/v2/"
	if [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 401 ]; then return; fi
	command -v docker-registry >/dev/null || { log "docker-registry not installed; run as root to install it"; return; }
	log "starting the private registry on :$REGISTRY_PORT"
	mkdir -p "$REGISTRY_DIR/data"
	htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" >"$REGISTRY_DIR/htpasswd"
	cat >"$REGISTRY_DIR/config.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $REGISTRY_DIR/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$REGISTRY_PORT}
auth: {htpasswd: {realm: narwhal-test, path: $REGISTRY_DIR/htpasswd}}
YML
	(setsid docker-registry serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/registry.log" 2>&1 & echo $! >"$REGISTRY_DIR/pid")
	for _ in $(seq 1 60); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 401 ] && return; sleep 0.5; done
	log "the private registry did not start; see $REGISTRY_DIR/registry.log"
	exit 1
}

registry_stop() {
	[ -f "$REGISTRY_DIR/pid" ] && kill "$(cat "$REGISTRY_DIR/pid")" 2>/dev/null || true
	rm -f "$REGISTRY_DIR/pid"
}

print_env() {
	cat <<ENV
export NARWHAL_TEST_IMAGE=$TEST_IMAGE
export NARWHAL_TEST_AMQP_URL=amqp://narwhal:narwhal@127.0.0.1:5682/
export NARWHAL_TEST_AMQP_RESTART_URL=amqp://narwhal:narwhal@127.0.0.1:5683/
export NARWHAL_TEST_RABBITMQ_CTL="$(cd "$(dirname "$0")" && pwd)/teststack.sh"
export NARWHAL_TEST_RABBITMQ_PIDFILE=$STACK_DIR/rabbitmq-main/rabbit.pid
export NARWHAL_TEST_AWS_ENDPOINT=http://127.0.0.1:$MOTO_PORT
export NARWHAL_TEST_REGISTRY=127.0.0.1:$REGISTRY_PORT
export NARWHAL_TEST_REGISTRY_USER=$REGISTRY_USER
export NARWHAL_TEST_REGISTRY_PASSWORD=$REGISTRY_PASSWORD
ENV
}

case "${1:-up}" in
up)
	[ "$(id -u)" = 0 ] && need_pkgs
	docker_up
	rabbit_start main &
	rabbit_start restart &
	moto_up
	registry_up
	wait
	;;
docker)
	[ "$(id -u)" = 0 ] && need_pkgs
	docker_up
	;;
env) print_env ;;
rabbitmq-stop) rabbit_stop restart ;;
rabbitmq-start) rabbit_start restart ;;
down)
	rabbit_stop main
	rabbit_stop restart
	pkill -f "moto_server -H 127.0.0.1 -p $MOTO_PORT" || true
	registry_stop
	;;
*) echo "usage: $0 up|docker|env|rabbitmq-stop|rabbitmq-start|down" >&2; exit 2 ;;
esac
