"""A source that publishes to SatuPintu with paho-mqtt 2: a dry run on the sandbox first, then live.

    pip install "paho-mqtt>=2"
    BROKER=127.0.0.1 PORT=1883 MQTT_USER=bpbd-awlr MQTT_PASSWORD=... SOURCE=awlr-sungai-pilowo python publish.py

Exit 0 when the dry run said ok and the live reading was acknowledged (QoS 1); 1 when the dry run refused it.
"""

from __future__ import annotations

import json
import os
import queue
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

BROKER = os.environ.get("BROKER", "127.0.0.1")
PORT = int(os.environ.get("PORT", "1883"))
CITY = os.environ.get("CITY", "morotai")
SOURCE = os.environ.get("SOURCE", "awlr-sungai-pilowo")
READING = {"values": {"water_level_cm": 120.5, "rain_mm_h": 2.0}}  # no ts: the time we receive it


def main() -> int:
    answers: queue.Queue[tuple[str, dict]] = queue.Queue()
    subscribed = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{SOURCE}-example")
    if os.environ.get("MQTT_USER"):
        client.username_pw_set(os.environ["MQTT_USER"], os.environ.get("MQTT_PASSWORD"))
    # The device says `offline` when it drops off (retained, its Last Will).
    client.will_set(f"city/{CITY}/status/{SOURCE}", "offline", qos=1, retain=True)
    client.on_message = lambda _c, _u, m: answers.put((m.topic, json.loads(m.payload)))
    client.on_subscribe = lambda *_a: subscribed.put(True)
    client.connect(BROKER, PORT)
    client.loop_start()
    try:
        client.subscribe([(f"city/{CITY}/test-result/{SOURCE}", 1), (f"city/{CITY}/rejected/{SOURCE}", 1)])
        subscribed.get(timeout=20)

        # 1. The sandbox: checked like the live topic, stored nowhere.
        client.publish(f"city/{CITY}/test/sensor/{SOURCE}", json.dumps(READING), qos=1).wait_for_publish(20)
        _topic, answer = answers.get(timeout=20)
        print("dry run:", json.dumps(answer))
        if not answer["ok"]:
            print("refused in the dry run: not publishing live", file=sys.stderr)
            return 1
        for w in answer["warnings"]:
            print("warning:", w["reason"], w["detail"], file=sys.stderr)

        # 2. Live, QoS 1: the broker has it once this returns; we acknowledge after the database commit.
        client.publish(f"city/{CITY}/status/{SOURCE}", "online", qos=1, retain=True).wait_for_publish(20)
        client.publish(f"city/{CITY}/sensor/{SOURCE}", json.dumps(READING), qos=1).wait_for_publish(20)
        print(f"published live on city/{CITY}/sensor/{SOURCE}")
        return 0
    finally:
        client.disconnect()
        client.loop_stop()


if __name__ == "__main__":
    sys.exit(main())
