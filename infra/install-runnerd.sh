#!/usr/bin/env bash
# Installs runnerd as a systemd service (docs/deploy.md):
#
#   infra/install-runnerd.sh path/to/runnerd        # what `make install-runnerd` runs
#   DESTDIR=/tmp/root infra/install-runnerd.sh ...  # stage into a root (packaging, tests)
#
# - the binary to /usr/local/bin/runnerd, the unit to /etc/systemd/system/runnerd.service;
# - the system user narwhal, in group docker (created when missing);
# - /etc/narwhal/runnerd.yaml from runnerd.example.yaml, only if absent (root:narwhal 0640);
# - "icc": false in /etc/docker/daemon.json (created or merged with jq), so that containers on
#   the default bridge, the jobs of different slots, cannot reach each other at no cost per job;
#   dockerd is restarted when that changed it (docs/runnerd.md, "Isolation between jobs");
# - systemctl daemon-reload.
# With DESTDIR set, the user, ownership and daemon-reload are left out (they
# belong to the target system); everything else lands under DESTDIR.
# The unit and the example configuration are read next to this script, as in
# the repository's infra/ and in the dist-runnerd tarball.
set -euo pipefail

bin=${1:?usage: install-runnerd.sh path/to/runnerd}
here=$(cd "$(dirname "$0")" && pwd)
destdir=${DESTDIR:-}
bindir=/usr/local/bin
unitdir=/etc/systemd/system
confdir=/etc/narwhal
user=narwhal

say() { echo "install-runnerd: $*"; }

install -D -m 0755 "$bin" "$destdir$bindir/runnerd"
install -D -m 0644 "$here/runnerd.service" "$destdir$unitdir/runnerd.service"
say "installed $destdir$bindir/runnerd and $destdir$unitdir/runnerd.service"

if [ -z "$destdir" ]; then
  getent group docker >/dev/null || groupadd --system docker
  if id "$user" >/dev/null 2>&1; then
    usermod -a -G docker "$user"
  else
    useradd --system --user-group --groups docker --home-dir /var/lib/narwhal-runner \
      --no-create-home --shell /usr/sbin/nologin "$user"
    say "created user $user (groups: $user, docker)"
  fi
fi

install -d -m 0750 "$destdir$confdir"
conf=$destdir$confdir/runnerd.yaml
if [ -e "$conf" ]; then
  say "kept the existing $conf"
else
  install -m 0640 "$here/runnerd.example.yaml" "$conf"
  say "wrote $conf from runnerd.example.yaml: edit it (tls, token_file, report.amqp_url, logs)"
fi

# Turn inter-container communication off on the default bridge (runnerd's isolation: auto).
daemon_json=$destdir/etc/docker/daemon.json
icc_changed=
if [ ! -e "$daemon_json" ]; then
  install -D -m 0644 /dev/null "$daemon_json"
  echo '{ "icc": false }' >"$daemon_json"
  icc_changed=1
elif command -v jq >/dev/null && [ "$(jq '.icc' "$daemon_json")" != false ]; then
  jq '.icc = false' "$daemon_json" >"$daemon_json.new" && mv "$daemon_json.new" "$daemon_json"
  icc_changed=1
elif ! command -v jq >/dev/null && ! grep -q '"icc": *false' "$daemon_json"; then
  say "set \"icc\": false in $daemon_json and restart dockerd (no jq here to merge it)"
fi
[ -n "$icc_changed" ] && say "set \"icc\": false in $daemon_json"

if [ -z "$destdir" ]; then
  if [ -n "$icc_changed" ] && [ -d /run/systemd/system ] && systemctl is-active --quiet docker; then
    systemctl restart docker
    say "restarted dockerd for \"icc\": false"
  fi
  chown root:"$user" "$destdir$confdir" "$conf"
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    say "next: systemctl enable --now runnerd"
  fi
fi
