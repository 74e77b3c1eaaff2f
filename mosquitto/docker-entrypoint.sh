#!/bin/sh
# The broker's entrypoint in docker compose (docker-compose.yml). Before Mosquitto
# starts: put the starter ACL (mosquitto/acl.compose: the platform users and the
# demo simulator) in the data volume when there is no ACL yet, and (re)set the
# platform users' passwords in the password file from .env, so the broker and the
# app containers always agree. Integrators are added with
# `docker compose run --rm integrator add NAME ...` (the same two files), then
# `docker compose restart mosquitto`. The tests run this script outside Docker
# with MOSQUITTO_DATA, MOSQUITTO_CONF and MOSQUITTO_STARTER_ACL pointing elsewhere.
set -eu
data=${MOSQUITTO_DATA:-/mosquitto/data}
conf=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
starter=${MOSQUITTO_STARTER_ACL:-/mosquitto/config/acl.compose}
: "${MQTT_INGEST_PASSWORD:?set MQTT_INGEST_PASSWORD in .env (see .env.example)}"

mkdir -p "$data"
[ -f "$data/acl" ] || cp "$starter" "$data/acl"
touch "$data/passwd"

# mosquitto_passwd -U hashes a file of user:password lines in place; the plain
# passwords only ever sit in this private temporary file, never on a command line.
plain=$(mktemp)
trap 'rm -f "$plain"' EXIT
printf 'satupintu-ingest:%s\n' "$MQTT_INGEST_PASSWORD" >"$plain"
if [ -n "${MQTT_SIMULATOR_PASSWORD:-}" ]; then
  printf 'demo-simulator:%s\n' "$MQTT_SIMULATOR_PASSWORD" >>"$plain"
fi
mosquitto_passwd -U "$plain"
# Keep every other user's line (integrators), replace the platform users'.
awk -F: 'NR == FNR { mine[$1] = 1; next } !($1 in mine)' "$plain" "$data/passwd" >"$data/passwd.new"
cat "$plain" >>"$data/passwd.new"
chmod 600 "$data/passwd.new"
mv "$data/passwd.new" "$data/passwd"
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
  chown -R mosquitto:mosquitto "$data"   # the broker drops to this user
fi
rm -f "$plain"
exec mosquitto -c "$conf"
