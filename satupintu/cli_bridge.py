"""`satupintu bridge ...`: forward a regency's topics to its province broker (store-and-forward)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from satupintu.bridge import BRIDGE_FILE, BridgeConfig, BridgeError, parse_remote, write_config
from satupintu.clikit import err, examples, profile_or_exit, settings_or_exit

bridge_cli = typer.Typer(
    help="Store-and-forward to the province: a Mosquitto bridge from this regency's broker.", no_args_is_help=True
)


@bridge_cli.command(
    "init",
    epilog=examples(
        "satupintu bridge init --to mqtts://morotai:PASSWORD@broker.malutprov.go.id:8883",
        "satupintu bridge init --to mqtt://morotai:PASSWORD@10.8.0.1:1883 --stdout",
    ),
)
def bridge_init(
    *,
    to: Annotated[str, typer.Option("--to", help="The province broker: mqtt[s]://user:password@host:port.")],
    out: Annotated[
        Path | None,
        typer.Option(help=f"Where to write the bridge section (default: SATUPINTU_MQTT_AUTH_DIR/{BRIDGE_FILE})."),
    ] = None,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the section instead of writing a file.")] = False,
    cafile: Annotated[
        Path | None, typer.Option(help="CA certificate of the province broker (mqtts); default: the system's CAs.")
    ] = None,
    local_user: Annotated[
        str | None, typer.Option(help="Login on this regency's broker when it wants one (read access to city/#).")
    ] = None,
    local_password: Annotated[str | None, typer.Option(help="Password of --local-user.")] = None,
) -> None:
    """Write the Mosquitto bridge that forwards this deployment's cities to the province broker.

    Forwarded with QoS 1 and a persistent session: city/{city}/sensor|service|status|alert/#. While the
    link is down this broker queues them (SATUPINTU_BRIDGE_QUEUE_MESSAGES per client); restart it to load.
    """
    settings = settings_or_exit()
    profile = profile_or_exit(settings)
    try:
        config = BridgeConfig(
            remote=parse_remote(to),
            cities=[profile.city.id],
            queue_messages=settings.bridge_queue_messages,
            reconnect_max_s=settings.bridge_reconnect_max_s,
            cafile=cafile.resolve() if cafile else None,
            local_username=local_user,
            local_password=local_password,
        )
        text = config.render()
    except BridgeError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    if stdout:
        typer.echo(text, nl=False)
        return
    path = write_config(text, out or Path(settings.mqtt_auth_dir) / BRIDGE_FILE)
    err.print(f"Wrote the bridge to the province ({config.remote.host}:{config.remote.port}) in {path}.")
    err.print(
        "`satupintu up` loads it when it starts the broker; a broker of your own needs it appended to its "
        "mosquitto.conf (or `include_dir` of its folder), then a restart. See docs/province.md."
    )
