#!/bin/sh
# Creates or upgrades Temporal's PostgreSQL schemas (run once per `docker compose up` by the
# temporal-schema service, from the temporalio/admin-tools image of the same server version).
# Idempotent: on an existing database `update-schema` applies only the missing versions, which is
# also how a server upgrade migrates; on a fresh one the database and base schema are created first.
set -eu

: "${POSTGRES_SEEDS:=postgresql}" "${DB_PORT:=5432}" "${POSTGRES_USER:=temporal}"
export SQL_PASSWORD="${POSTGRES_PWD:-temporal}"
schema_root=/etc/temporal/schema/postgresql/v12

echo "temporal-schema: waiting for PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT}..."
until nc -z -w 2 "$POSTGRES_SEEDS" "$DB_PORT"; do sleep 1; done

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$@"
}

setup() { # database, schema folder
  if sql_tool "$1" update-schema -d "$schema_root/$2/versioned" 2>/dev/null; then
    echo "temporal-schema: database '$1' is up to date"
    return
  fi
  echo "temporal-schema: setting up database '$1'"
  sql_tool "$1" create || echo "temporal-schema: database '$1' already exists"
  sql_tool "$1" setup-schema -v 0.0
  sql_tool "$1" update-schema -d "$schema_root/$2/versioned"
}

setup "${DBNAME:-temporal}" temporal
setup "${VISIBILITY_DBNAME:-temporal_visibility}" visibility
echo "temporal-schema: done"
