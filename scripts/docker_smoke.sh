#!/usr/bin/env bash
# Builds the two images and runs docker/compose.yml end to end on this Docker engine:
# PostgreSQL, Redis, migrate, web (gunicorn), both workers and beat come up healthy; a
# team is created with `manage.py create_team`, a brief is sent through the API with a
# token, the generation worker writes its drafts with the bundled model (on CPU), an
# editor's approval goes through with If-Match; then the stack and its volumes are
# removed (KEEP=1 leaves them up).
#
#   scripts/docker_smoke.sh               # or: make docker-smoke
#
# Options (environment):
#   STANDINS=1   build local stand-ins for python:3.11-slim-bookworm, postgres:16-bookworm
#                and redis:7-bookworm from Debian's packages (debootstrap, root) instead of
#                pulling them, for machines that reach Debian and PyPI but not Docker Hub
#   TORCH_WHEELS=/dir   serve the torch wheel found in /dir to the builds (with its
#                dependencies, fetched by pip here) instead of download.pytorch.org
#   TORCH_INDEX, PIP_INDEX_URL, PIP_TRUSTED_HOST   passed to both builds as given
#   KEEP=1       leave the stack running (remove it with the printed `down -v` command)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROJECT="${SMOKE_PROJECT:-cs-smoke}"
WORK="$(mktemp -d)"
log() { printf '==> %s\n' "$*"; }
die() { printf 'docker smoke: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers ('docker info' failed)"
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then COMPOSE=(docker-compose)
else die "neither 'docker compose' nor 'docker-compose' is installed"; fi
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
if ! docker buildx version >/dev/null 2>&1 && [ "$(docker version -f '{{.Client.Version}}' | cut -d. -f1)" -ge 23 ]; then
  # Docker 23+ clients only build with BuildKit through the buildx plugin.
  log "no buildx plugin: using the classic builder (it reads the root .dockerignore)"
  export DOCKER_BUILDKIT=0
fi

INDEX_PID=""
cleanup() {
  [ -n "$INDEX_PID" ] && kill "$INDEX_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" != 1 ]; then
    "${COMPOSE[@]}" -p "$PROJECT" --project-directory "$WORK" -f docker/compose.yml \
      down -v --remove-orphans >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# --- base images --------------------------------------------------------------------------
if [ "${STANDINS:-0}" = 1 ]; then
  log "building stand-in base images from Debian bookworm"
  if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || die "STANDINS=1 needs debootstrap (apt-get install debootstrap)"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >/dev/null
    rm -rf "$WORK"/rootfs/var/lib/apt/lists/* "$WORK"/rootfs/var/cache/apt/archives/*.deb
    tar -C "$WORK/rootfs" -c . | docker import - debian:bookworm-slim >/dev/null
    rm -rf "$WORK/rootfs"
  fi
  cp -r scripts/docker-smoke "$WORK/standins"
  cp /etc/ssl/certs/ca-certificates.crt "$WORK/standins/host-ca-certificates.crt"
  for spec in python:3.11-slim-bookworm=python postgres:16-bookworm=postgres redis:7-bookworm=redis; do
    docker build -q -f "$WORK/standins/${spec#*=}.Dockerfile" -t "${spec%=*}" "$WORK/standins" >/dev/null
  done
fi

# --- build args ---------------------------------------------------------------------------
BUILD_ARGS=()
if [ -n "${TORCH_WHEELS:-}" ]; then
  log "serving torch from $TORCH_WHEELS to the builds"
  gateway="$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')"
  # A fresh engine records only the subnet; the gateway is then docker0's own address.
  [ -n "$gateway" ] || gateway="$(ip -4 -o addr show docker0 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')"
  [ -n "$gateway" ] || die "cannot tell the bridge network's gateway address (docker0)"
  python3 -m pip download -q --no-index --find-links "$TORCH_WHEELS" torch==2.13.0 --no-deps -d "$WORK/wheels"
  python3 -m pip download -q torch==2.13.0 --find-links "$WORK/wheels" -d "$WORK/wheels" 2>/dev/null
  python3 - "$WORK/wheels" "$WORK/index" <<'PY'
import os, re, sys, pathlib
src, dst = map(pathlib.Path, sys.argv[1:])
for wheel in src.glob("*.whl"):
    folder = dst / re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
    folder.mkdir(parents=True, exist_ok=True)
    os.link(wheel, folder / wheel.name)
PY
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])')"
  python3 -m http.server "$port" --bind "$gateway" --directory "$WORK/index" >/dev/null 2>&1 &
  INDEX_PID=$!
  TORCH_INDEX="http://$gateway:$port/"
  PIP_TRUSTED_HOST="${PIP_TRUSTED_HOST:+$PIP_TRUSTED_HOST }$gateway"
fi
for arg in TORCH_INDEX PIP_INDEX_URL PIP_TRUSTED_HOST; do
  [ -n "${!arg:-}" ] && BUILD_ARGS+=(--build-arg "$arg=${!arg}")
done

log "building content-studio-web and content-studio-worker"
start=$SECONDS
docker build -q -f docker/Dockerfile.web -t content-studio-web:latest "${BUILD_ARGS[@]}" . >/dev/null
docker build -q -f docker/Dockerfile.worker -t content-studio-worker:latest "${BUILD_ARGS[@]}" . >/dev/null
log "images built in $((SECONDS - start)) s: $(docker image inspect -f '{{.Size}}' content-studio-web:latest | awk '{printf "web %.1f GB", $1/1e9}'), $(docker image inspect -f '{{.Size}}' content-studio-worker:latest | awk '{printf "worker %.1f GB", $1/1e9}')"

# --- configuration ------------------------------------------------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PGPASS="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
cat > "$WORK/.env" <<EOF
DEBUG=false
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
ALLOWED_HOSTS=localhost
DATABASE_URL=postgres://studio:$PGPASS@postgres:5432/studio
CELERY_BROKER_URL=redis://redis:6379/0
POSTGRES_DB=studio
POSTGRES_USER=studio
POSTGRES_PASSWORD=$PGPASS
WEB_PORT=$PORT
WEB_CONCURRENCY=2
GENERATION_MAX_NEW_TOKENS=48
EOF
dc() { "${COMPOSE[@]}" -p "$PROJECT" --project-directory "$WORK" -f docker/compose.yml "$@"; }
# The GPU overlay must merge cleanly even where it cannot run.
"${COMPOSE[@]}" -p "$PROJECT" --project-directory "$WORK" -f docker/compose.yml \
  -f docker/compose.gpu.yml config -q

log "docker compose up (project $PROJECT, web on 127.0.0.1:$PORT)"
start=$SECONDS
dc up -d >/dev/null 2>&1 || { dc logs --tail 50; die "compose up failed"; }

wait_healthy() {  # service, timeout in s
  local id state deadline=$((SECONDS + $2))
  id="$(dc ps -q "$1")"
  while :; do
    state="$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null || echo gone)"
    [ "$state" = healthy ] && return 0
    if [ $SECONDS -ge $deadline ] || [ "$state" = unhealthy ] || [ "$state" = gone ]; then
      dc logs --tail 40 "$1"; die "$1 is $state after $2 s"
    fi
    sleep 3
  done
}
for service in postgres redis web; do wait_healthy "$service" 240; done
log "postgres, redis, migrate and web healthy after $((SECONDS - start)) s"

log "manage.py create_team and create_token"
dc run --rm -T --no-deps web python manage.py create_team "Smoke Roasters" --admin smoke-admin | tail -2
TOKEN="$(dc run --rm -T --no-deps web python manage.py create_token smoke-admin | awk '{print $2}')"
PROJECT_ID="$(dc run --rm -T --no-deps web python manage.py shell -c "
from django.contrib.auth import get_user_model
from studio.models import Team
from studio.services.projects import project_create
user = get_user_model().objects.get(username='smoke-admin')
team = Team.objects.get(memberships__user=user)
print(project_create(user=user, team_id=team.pk, data={'name': 'Smoke blog',
      'brand_voice': 'Warm and plain.'}).pk)" | tail -1)"

log "brief through the API, drafts from the worker, approval with If-Match"
start=$SECONDS
python3 - "$PORT" "$TOKEN" "$PROJECT_ID" <<'PY'
import http.client, json, sys, time
port, token, project = sys.argv[1], sys.argv[2], sys.argv[3]
HEADERS = {"Host": "localhost", "X-Forwarded-Proto": "https", "Authorization": f"Token {token}",
           "Content-Type": "application/json"}

def call(method, path, body=None, **extra):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    conn.request(method, path, json.dumps(body) if body is not None else None,
                 {**HEADERS, **extra})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, dict(resp.getheaders()), (json.loads(data) if data else None)

status, _, brief = call("POST", f"/api/projects/{project}/briefs/", {
    "kind": "social_post", "title": "Our new Ethiopian roast",
    "instructions": "Announce the new single-origin roast.", "variants": 2,
    "extra": {"platform": "Instagram"}})
assert status == 201, (status, brief)
print(f"brief {brief['id']}: {brief['status']}")
deadline = time.time() + 600
while True:
    status, _, detail = call("GET", f"/api/briefs/{brief['id']}/")
    job = detail["jobs"][0]
    if job["status"] in ("succeeded", "failed") or time.time() > deadline:
        break
    time.sleep(5)
assert job["status"] == "succeeded", job
drafts = job["drafts"]
assert len(drafts) == 2, drafts
print(f"job {job['id']} done: {len(drafts)} drafts, attempts {job['attempts']}")
status, headers, draft = call("GET", f"/api/drafts/{drafts[0]['id']}/")
assert status == 200 and draft["text"].strip(), (status, draft)
etag = headers.get("ETag") or headers.get("Etag")
status, _, _ = call("POST", f"/api/drafts/{draft['id']}/approve/", {})
assert status == 428, status  # If-Match is required
status, _, review = call("POST", f"/api/drafts/{draft['id']}/approve/", {}, **{"If-Match": etag})
assert status in (200, 201), (status, review)
print(f"draft {draft['id']} approved; text: {draft['text'][:70]!r}")
PY
log "brief to approved draft in $((SECONDS - start)) s"

for service in worker-generate worker-train beat; do wait_healthy "$service" 300; done
log "workers and beat healthy"
dc ps
log "docker smoke passed"
if [ "${KEEP:-0}" = 1 ]; then
  echo "left running; remove with: ${COMPOSE[*]} -p $PROJECT --project-directory $WORK -f docker/compose.yml down -v"
fi
