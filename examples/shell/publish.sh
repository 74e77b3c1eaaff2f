#!/usr/bin/env bash
# A source that publishes to SatuPintu with mosquitto_pub: a dry run on the sandbox first, then live.
#
#   BROKER=127.0.0.1 PORT=1883 MQTT_USER=bpbd-awlr MQTT_PASSWORD=... SOURCE=awlr-sungai-pilowo \
#     bash examples/shell/publish.sh
#
# Needs mosquitto-clients (apt-get install mosquitto-clients). Exit 0 when the dry run said ok and
# the live reading was published; 1 when the dry run refused it (its answer is printed).
set -euo pipefail
BROKER=${BROKER:-127.0.0.1}
PORT=${PORT:-1883}
CITY=${CITY:-morotai}
SOURCE=${SOURCE:-awlr-sungai-pilowo}
PAYLOAD=${PAYLOAD:-'{"values": {"water_level_cm": 120.5, "rain_mm_h": 2.0}}'}  # no ts: the time we receive it
auth=()
if [[ -n "${MQTT_USER:-}" ]]; then auth=(-u "$MQTT_USER" -P "$MQTT_PASSWORD"); fi

# 1. The sandbox: mosquitto_rr subscribes to the answer topic, publishes, and prints the one answer.
answer=$(mosquitto_rr -h "$BROKER" -p "$PORT" "${auth[@]}" -V 311 -q 1 -W 20 \
  -t "city/$CITY/test/sensor/$SOURCE" -e "city/$CITY/test-result/$SOURCE" -m "$PAYLOAD")
echo "dry run: $answer"
case "$answer" in
  *'"ok":true'*) ;;
  *) echo "refused in the dry run: not publishing live" >&2; exit 1 ;;
esac

# 2. Live, QoS 1. Refusals and warnings come on city/$CITY/rejected/$SOURCE (subscribe to it while you integrate).
mosquitto_pub -h "$BROKER" -p "$PORT" "${auth[@]}" -q 1 -t "city/$CITY/sensor/$SOURCE" -m "$PAYLOAD"
echo "published live on city/$CITY/sensor/$SOURCE"
