"""Where a batch is parsed and committed: in this process, or in a writer process of its own.

The consumer hands over raw messages `(topic, payload, received_ms)` and gets
back the WriteResult once they are committed. In production the work runs in
a child process (`ProcessCommitter`): paho's network loop in the consumer and
the parse-and-commit work each then hold a core, instead of sharing one
interpreter lock (measured: a single process stays near 6k msg/s on the
2-core reference machine, see bench/ingest.py). `InlineCommitter` does the
same in-process, for tests and debugging.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading
import traceback
from typing import Protocol

from app.settings import Settings
from ingest.feedback import advise
from ingest.parser import ParseRules, parse
from ingest.traffic import TRAFFIC
from ingest.writer import BatchWriter, Item, Stopped, WriteResult

log = logging.getLogger(__name__)

Raw = tuple[str, bytes, int]  # topic, payload, received_ms


class WriterCrashed(RuntimeError):
    """The writer failed in a way retrying cannot fix; nothing of the batch was acknowledged."""


class Committer(Protocol):
    def commit(self, raw: list[Raw], stop: threading.Event) -> WriteResult:
        """Parse and commit `raw`; raise Stopped if `stop` is set while the database is unavailable."""

    def close(self) -> None: ...


def parse_and_write(writer: BatchWriter, rules: ParseRules, raw: list[Raw], stop: threading.Event) -> WriteResult:
    items = [Item(t, p, r, parse(t, p, r, rules)) for t, p, r in raw]
    result = writer.write(items, stop=stop)
    result.warnings = advise(items, result, rules)  # what was accepted but is probably a mistake
    TRAFFIC.record(writer, items, result.warnings)  # per source and hour, for the integrator health page
    return result


class InlineCommitter:
    """Parse and commit in the calling thread."""

    def __init__(self, writer: BatchWriter, rules: ParseRules) -> None:
        self._writer, self._rules = writer, rules

    def commit(self, raw: list[Raw], stop: threading.Event) -> WriteResult:
        # Retention before the new batch, never between a commit and its acks.
        self._writer.maintain()
        return parse_and_write(self._writer, self._rules, raw, stop)

    def close(self) -> None:
        self._writer.close()


class ProcessCommitter:
    """Parse and commit in a child process; one batch in flight at a time."""

    def __init__(self, settings: Settings) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._give_up = ctx.Event()
        self._proc = ctx.Process(
            target=_serve,
            args=(child, self._give_up, settings.model_dump(), logging.getLogger().level),
            name="satupintu-writer",
            daemon=True,
        )
        self._proc.start()
        child.close()

    def commit(self, raw: list[Raw], stop: threading.Event) -> WriteResult:
        try:
            self._conn.send(raw)
            while not self._conn.poll(0.1):
                if stop.is_set():
                    self._give_up.set()  # only heeded while the database is unavailable
                if not self._proc.is_alive():
                    raise WriterCrashed(f"the writer process exited with {self._proc.exitcode}")
            kind, value = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            raise WriterCrashed(f"lost the writer process: {exc}") from exc
        if kind == "ok":
            return value
        if kind == "stopped":
            raise Stopped
        raise WriterCrashed(value)

    def close(self) -> None:
        try:
            self._conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(timeout=30)
        if self._proc.is_alive():
            log.warning("the writer process did not exit; terminating it")
            self._proc.terminate()
            self._proc.join(timeout=5)


def _serve(conn, give_up, settings_data: dict, log_level: int) -> None:  # noqa: ANN001 - mp objects
    """The writer process: receive raw batches, parse, commit, answer."""
    from app.profile import load_profile
    from app.storage.engine import engine_from_settings

    logging.basicConfig(level=log_level or logging.INFO, format="%(asctime)s writer %(levelname)s %(message)s")
    # The parent decides when to stop (it closes the pipe); a terminal's Ctrl-C reaches the
    # whole process group and must not interrupt a commit half way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = Settings(**settings_data)
    profile = load_profile(settings.profile)
    writer = BatchWriter(engine_from_settings(settings), profile, settings)
    rules = ParseRules.from_profile(profile, settings)
    try:
        while True:
            try:
                raw = conn.recv()
            except EOFError:
                break  # the consumer is gone: whatever it did not ack, the broker redelivers
            if raw is None:
                break
            try:
                result = parse_and_write(writer, rules, raw, give_up)
            except Stopped:
                conn.send(("stopped", None))
                continue
            except Exception:  # noqa: BLE001 - reported to the consumer, which exits without acking
                conn.send(("error", traceback.format_exc()))
                break
            for r in result.refusals:
                r.item.payload = b""  # stored in quarantine already; the notice does not carry it
            conn.send(("ok", result))
            writer.maintain()  # retention while the consumer acks: it never delays an acknowledgement
    except (BrokenPipeError, OSError):
        pass
    finally:
        writer.close()
