#!/usr/bin/env bash
# Make sure the services the tests use answer: Redis on 127.0.0.1:6379 and PostgreSQL on
# 127.0.0.1:5432 (trust auth, database `test`). Starts a stopped one with the machine's own
# commands. Under CI=true a service that still does not answer fails the run; elsewhere the
# tests that need it are skipped.
set -uo pipefail

answers() { # host port
  python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

wait_for() { # name port
  for _ in $(seq 1 40); do
    answers 127.0.0.1 "$2" && return 0
    sleep 0.5
  done
  return 1
}

start_redis() {
  command -v redis-server >/dev/null 2>&1 || return 1
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 \
    || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null 2>&1
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null 2>&1 || return 1
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || return 1
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1
}

status=0
check() { # name port starter
  if answers 127.0.0.1 "$2"; then
    echo "services: $1 answers on 127.0.0.1:$2"
    return
  fi
  echo "services: $1 does not answer on 127.0.0.1:$2; starting it"
  "$3"
  if wait_for "$1" "$2"; then
    echo "services: $1 started"
  elif [ "${CI:-}" = "true" ]; then
    echo "services: $1 is not reachable on 127.0.0.1:$2 and CI=true: failing" >&2
    status=1
  else
    echo "services: $1 is not reachable; its tests will be skipped" >&2
  fi
}

check redis 6379 start_redis
check postgres 5432 start_postgres

if answers 127.0.0.1 5432 && command -v psql >/dev/null 2>&1; then
  if ! psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
    createdb -h 127.0.0.1 -U postgres test >/dev/null 2>&1 \
      && echo "services: created database test"
  fi
fi
exit $status
