#!/usr/bin/env bash
# Installs and starts PostgreSQL (Debian's postgresql package) and creates a database and user
# for Gome's tests, then exports their URL in GOME_TEST_POSTGRES_URL. Idempotent: a server that
# already runs is kept, and the role and database are created only when missing. Needs root.
#
# Usage: source scripts/postgres.sh && gome_postgres   (exports GOME_TEST_POSTGRES_URL)
#        scripts/postgres.sh                           (prints the URL)
set -euo pipefail

GOME_TEST_POSTGRES_DB=${GOME_TEST_POSTGRES_DB:-gome_test}

# gome_postgres_psql runs psql as the postgres superuser on the local socket.
gome_postgres_psql() {
	runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$1" -tA "${@:2}"
}

gome_postgres() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "postgres: this is not root: cannot install or start it; the PostgreSQL tests will skip unless GOME_TEST_POSTGRES_URL is set" >&2
		return 1
	fi
	if ! command -v pg_lsclusters >/dev/null 2>&1; then
		echo "postgres: installing postgresql" >&2
		# Callers use `gome_postgres || ...`, where bash ignores set -e: each failure returns by itself.
		apt-get -o DPkg::Lock::Timeout=300 update -qq || return 1
		# policy-rc.d may forbid starting services at install time; the cluster is started below.
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends postgresql >/dev/null || return 1
	fi
	local version port status
	read -r version _ port status _ < <(pg_lsclusters --no-header | head -n1) || true
	if [ -z "${version:-}" ]; then
		version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
		pg_createcluster "$version" main >/dev/null
		read -r version _ port status _ < <(pg_lsclusters --no-header | head -n1)
	fi
	if [ "$status" != online ]; then
		pg_ctlcluster "$version" main start
	fi
	for _ in $(seq 50); do
		gome_postgres_psql "$port" -c 'select 1' >/dev/null 2>&1 && break
		sleep 0.1
	done

	local db=$GOME_TEST_POSTGRES_DB
	if [ "$(gome_postgres_psql "$port" -c "select 1 from pg_roles where rolname = '$db'")" != 1 ]; then
		gome_postgres_psql "$port" -c "create role $db login password '$db'"
	fi
	if [ "$(gome_postgres_psql "$port" -c "select 1 from pg_database where datname = '$db'")" != 1 ]; then
		gome_postgres_psql "$port" -c "create database $db owner $db"
	fi
	# A test database only: the password is its name, and the server listens on localhost.
	export GOME_TEST_POSTGRES_URL="postgres://$db:$db@127.0.0.1:$port/$db?sslmode=disable"
	if ! psql -X -q -tA "$GOME_TEST_POSTGRES_URL" -c 'select 1' >/dev/null; then
		echo "postgres: $db does not accept a password login on 127.0.0.1:$port; check pg_hba.conf" >&2
		return 1
	fi
	echo "postgres: PostgreSQL $version up on port $port; GOME_TEST_POSTGRES_URL=$GOME_TEST_POSTGRES_URL" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	gome_postgres
	echo "$GOME_TEST_POSTGRES_URL"
fi
