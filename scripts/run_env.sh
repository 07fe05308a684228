# Sourced by scripts/run.sh: the environment `make run` serves the studio in.
# DEBUG is off unless --dev (or DEBUG=true) asks for it: error pages are the studio's
# own, never Django's debug pages. Off, the studio is served as in production but on
# plain http on this machine, so the HTTPS-only settings are relaxed (each can still be
# set in the environment); a SECRET_KEY is generated once into $STUDIO_VAR_DIR/secret_key.
# Usage: source scripts/run_env.sh [--dev]
RUN_DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) RUN_DEV=1 ;;
    *) echo "usage: run.sh [--dev]   (--dev: DEBUG on, Django's debug pages)" >&2; return 2 ;;
  esac
done
[ "$RUN_DEV" = 1 ] && DEBUG=true
case "$(echo "${DEBUG:-false}" | tr '[:upper:]' '[:lower:]')" in
  1|true|yes|on) export DEBUG=true ;;
  *) export DEBUG=false ;;
esac
RUN_VAR_DIR=${STUDIO_VAR_DIR:-var}
mkdir -p "$RUN_VAR_DIR"
case "$DEBUG" in
  true) ;;
  *)
    if [ -z "${SECRET_KEY:-}" ]; then
      if [ ! -s "$RUN_VAR_DIR/secret_key" ]; then
        (umask 077; python3 -c "import secrets; print(secrets.token_urlsafe(50))" \
          > "$RUN_VAR_DIR/secret_key")
      fi
      SECRET_KEY=$(cat "$RUN_VAR_DIR/secret_key")
      export SECRET_KEY
    fi
    export ALLOWED_HOSTS=${ALLOWED_HOSTS:-${WEB_HOST:-127.0.0.1},localhost,127.0.0.1,[::1]}
    export SECURE_SSL_REDIRECT=${SECURE_SSL_REDIRECT:-false}
    export SESSION_COOKIE_SECURE=${SESSION_COOKIE_SECURE:-false}
    export CSRF_COOKIE_SECURE=${CSRF_COOKIE_SECURE:-false}
    export SECURE_HSTS_SECONDS=${SECURE_HSTS_SECONDS:-0}
    export SECURE_PROXY_SSL_HEADER=${SECURE_PROXY_SSL_HEADER:-false}
    ;;
esac
