"""How fast ingest.parser.parse() is, next to bare orjson.loads on the same payloads.

    .venv/bin/python bench/parser.py [iterations]      (default 200000)

Single-threaded; medians of 3 runs per case. The paho receive loop alone costs
~46 µs a message (shared/CEILINGS.md), so this is the parser's share of that.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import orjson

from ingest.messages import Reading, Rejected, TicketEvent
from ingest.parser import MetricRule, ParseRules, parse

RECV = 1_795_302_900_000  # 2026-11-22T08:15:00+09:00
RULES = ParseRules(
    cities=frozenset({"morotai"}),
    metrics={
        "water_level_cm": MetricRule("cm", -50, 1500),
        "rain_mm_h": MetricRule("mm/h", 0, 500),
        "battery_v": MetricRule("V", 0, 60),
        "air_temp_c": MetricRule("°C", -10, 60),
        "humidity_pct": MetricRule("%", 0, 100),
    },
)

READING = orjson.dumps(
    {
        "ts": "2026-11-22T08:15:00+09:00",
        "values": {"water_level_cm": 182.5, "rain_mm_h": 12.0},
        "district": "morotai-selatan",
        "lat": 2.0386,
        "lon": 128.2962,
    }
)
READING_EPOCH = orjson.dumps({"ts": RECV / 1000, "values": {"water_level_cm": 182.5, "rain_mm_h": 12.0}})
SENML = orjson.dumps(
    [{"bn": "urn:dev:mac:0024befffe804ff1:", "bt": RECV / 1000 - 60, "n": "water_level_cm", "u": "cm", "v": 180.0}]
    + [
        {"n": ("water_level_cm", "rain_mm_h", "battery_v", "air_temp_c", "humidity_pct")[i % 5], "v": 10.0 + i, "t": i}
        for i in range(1, 10)
    ]
)
TICKET = orjson.dumps(
    {
        "ticket_id": "112-2026-000123",
        "service": "ambulans",
        "status": "open",
        "priority": "critical",
        "district": "morotai-utara",
        "ts": "2026-11-22T08:14:04+09:00",
        "title": "Kecelakaan lalu lintas",
        "lat": 2.31,
        "lon": 128.45,
    }
)
REJECT = b'{"values": {"rain_mm_h": NaN}}'

CASES = [
    ("reading object (ISO ts, 2 values)", "city/morotai/sensor/awlr-sungai-pilowo", READING, Reading),
    ("reading object (epoch ts, 2 values)", "city/morotai/sensor/awlr-sungai-pilowo", READING_EPOCH, Reading),
    ("SenML pack, 10 records", "city/morotai/sensor/awlr-sungai-pilowo", SENML, Reading),
    ("ticket event", "city/morotai/service/layanan-112", TICKET, TicketEvent),
    ("rejected: NaN (bad_json)", "city/morotai/sensor/awlr-sungai-pilowo", REJECT, Rejected),
]


def _time(fn: Callable[[int], None], n: int) -> float:
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        fn(n)
        runs.append((time.perf_counter() - t0) / n)
    return statistics.median(runs)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(f"Python {sys.version.split()[0]}, orjson {orjson.__version__}, {n} iterations, median of 3")
    print(f"{'payload':38} {'bytes':>5} {'orjson.loads':>20} {'parse()':>20} {'ratio':>6}")
    for label, topic, payload, expected in CASES:
        out = parse(topic, payload, RECV, RULES)
        assert isinstance(out, expected), out
        if isinstance(out, Reading):
            assert not out.refused, out.refused

        def bare(k: int, loads: Callable[[bytes], object] = orjson.loads, p: bytes = payload) -> None:
            for _ in range(k):
                with contextlib.suppress(orjson.JSONDecodeError):
                    loads(p)

        def full(
            k: int, f: Callable[..., object] = parse, t: str = topic, p: bytes = payload, r: ParseRules = RULES
        ) -> None:
            for _ in range(k):
                f(t, p, RECV, r)

        a, b = _time(bare, n), _time(full, n)
        print(
            f"{label:38} {len(payload):5d} {a * 1e6:7.2f} µs {1 / a / 1e3:7.0f}k/s "
            f"{b * 1e6:7.2f} µs {1 / b / 1e3:7.0f}k/s {b / a:5.1f}x"
        )


if __name__ == "__main__":
    main()
