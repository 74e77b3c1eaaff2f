"""`satupintu check`: the dry run on the command line, offline (no server, no broker, the profile only)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from app.profile import ProfileError, load_deployment
from app.settings import get_settings
from ingest.parser import ParseRules
from ingest.validate import check as dry_run
from satupintu.clikit import examples

check_cli = typer.Typer()
out = Console(highlight=False, soft_wrap=True)


@check_cli.command(
    "check",
    epilog=examples(
        "satupintu check --topic city/morotai/sensor/awlr-x payload.json",
        'echo \'{"values": {"water_level_cm": 120}}\' | satupintu check --topic city/morotai/sensor/awlr-x --json',
    ),
)
def check(
    topic: Annotated[str, typer.Option(help="The topic you would publish on, e.g. city/morotai/sensor/awlr-x.")],
    file: Annotated[str, typer.Argument(help="The payload file; - (the default) reads standard input.")] = "-",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the answer as JSON (the API's and sandbox's).")
    ] = False,
) -> None:
    """Check one payload as the ingestor would, storing nothing; exit 0 when it would be stored, 1 when refused."""
    try:
        payload = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        out.print(f"[red]cannot read {escape(file)}: {escape(exc.strerror or str(exc))}[/red]")
        raise typer.Exit(2) from exc
    settings = get_settings()
    try:
        deployment = load_deployment(settings.profile)  # a topic of any of its cities, by that city's own rules
    except ProfileError as exc:
        out.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    answer = dry_run(topic, payload, ParseRules.from_deployment(deployment, settings))
    if as_json:
        sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(answer)
    raise typer.Exit(0 if answer["ok"] else 1)


def _print(answer: dict) -> None:
    kind = answer["kind"] or "?"
    if answer["ok"]:
        out.print(f"[green]ok[/green]: would be stored ({kind}, {len(answer['would_store'])} item(s))")
    else:
        out.print(f"[red]refused[/red] ({kind}): nothing would be stored")
    for e in answer["errors"]:
        where = f" at {e['path']}" if e["path"] else ""
        out.print(f"  error {e['reason']}{escape(where)}: {escape(e['detail'])}")
    for w in answer["warnings"]:
        out.print(f"  warning {w['reason']}: {escape(w['detail'])}")
