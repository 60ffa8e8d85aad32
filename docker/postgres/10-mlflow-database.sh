#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
# a second database and role for the MLflow tracking server, next to Temporal's databases
# (those are created by the temporal-schema job with temporal-sql-tool).
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=mlflow_db="${MLFLOW_DB_NAME:-mlflow}" \
  --set=mlflow_user="${MLFLOW_DB_USER:-mlflow}" \
  --set=mlflow_password="${MLFLOW_DB_PASSWORD:-mlflow}" <<'SQL'
CREATE ROLE :"mlflow_user" WITH LOGIN PASSWORD :'mlflow_password';
CREATE DATABASE :"mlflow_db" OWNER :"mlflow_user";
SQL
