#!/usr/bin/env bash
# CI's run of scripts/docker_smoke.sh on a machine like the development one: no Docker
# engine running and no Docker Hub, but Debian's packages and PyPI. Starts Debian's
# docker.io engine, builds the base images as stand-ins from Debian (STANDINS=1) and
# serves the on-disk CPU torch wheel to the builds when there is one. If no engine can
# be started here at all, it says so and stops without failing: the compose file and
# Dockerfiles are still checked statically by tests/studio/api/test_deployment.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p var
# Debian's docker.io client (20.10) builds with BuildKit without a plugin.
[ -x /usr/bin/docker ] && export PATH="/usr/bin:$PATH"

skip() { echo "docker smoke SKIPPED: $*"; exit 0; }
# Each tool on its own: a machine may have the engine from an earlier run but no compose.
need=()
command -v dockerd >/dev/null || need+=(docker.io)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing Debian's ${need[*]}"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"; } \
    >var/apt-docker.log 2>&1 || skip "apt-get install ${need[*]} failed (var/apt-docker.log)"
  export PATH="/usr/bin:$PATH"
fi
if ! docker info >/dev/null 2>&1; then
  echo "==> starting dockerd (log: var/dockerd.log)"
  nohup dockerd >var/dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -5 var/dockerd.log; skip "dockerd did not start"; }
fi
wheels=""
ls /opt/wheels/torch-2.13.0+cpu-*.whl >/dev/null 2>&1 && wheels=/opt/wheels
STANDINS=1 TORCH_WHEELS="$wheels" exec scripts/docker_smoke.sh
