#!/usr/bin/env bash
# Starts the local PostgreSQL 15 (Debian's cluster, no systemd) and loads Chinook for the
# sql verifier's tests: database rewardgate_chinook, read through the role rewardgate_ro,
# which may only SELECT and whose transactions are read-only by default. Safe to run
# again: each step skips what is already there. Needs root; elsewhere it says so and
# leaves PostgreSQL to you (the PostgreSQL tests then skip, except in CI where they fail).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_VERSION=${PG_VERSION:-15}
DB=rewardgate_chinook
ROLE=rewardgate_ro
PASSWORD=rewardgate_ro  # a local, read-only test role; not a secret

if [ "$(id -u)" != 0 ] || ! command -v pg_ctlcluster >/dev/null; then
    echo "postgres: skipped (needs root and the postgresql package)" >&2
    exit 0
fi

if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main"' | grep -q .; then
    pg_createcluster "$PG_VERSION" main
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    pg_ctlcluster "$PG_VERSION" main start
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 0.5
done

as_postgres() { runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 "$@"; }
query() { as_postgres -tA "$@"; }

if [ -z "$(query -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" ]; then
    as_postgres -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
fi
as_postgres -c "ALTER ROLE $ROLE SET default_transaction_read_only = on"
as_postgres -c "ALTER ROLE $ROLE SET statement_timeout = '60s'"

if [ -z "$(query -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    as_postgres -c "CREATE DATABASE $DB"
fi
if [ -z "$(query -d "$DB" -c "SELECT 1 FROM pg_tables WHERE tablename = 'track'")" ]; then
    python3 scripts/chinook_to_postgres.py tests/data/sql/chinook.sqlite \
        | as_postgres -1 -d "$DB" -f -
    echo "postgres: loaded Chinook into $DB"
fi
as_postgres -d "$DB" <<SQL
REVOKE ALL ON DATABASE $DB FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE $DB TO $ROLE;
GRANT USAGE ON SCHEMA public TO $ROLE;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO $ROLE;
SQL
echo "postgres: $DB ready (role $ROLE, read-only)"
