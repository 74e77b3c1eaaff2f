"""Find or start a Mosquitto broker with the project's configuration."""

from __future__ import annotations

import getpass
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF_TEMPLATE = REPO / "mosquitto" / "mosquitto.conf"
INSTALL_HINT = (
    "Mosquitto is not installed. Install it with:\n"
    "  sudo apt-get install -y mosquitto      (Debian/Ubuntu)\n"
    "  brew install mosquitto                 (macOS)\n"
    "or point SATUPINTU_MQTT_URL at a running broker."
)


class BrokerError(RuntimeError):
    """No broker is reachable and none could be started."""


def listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def auth_files(directory: Path) -> tuple[Path, Path] | None:
    """The password file and ACL that `satupintu integrator` wrote in directory, when both exist."""
    passwd, acl = directory / "passwd", directory / "acl"
    return (passwd, acl) if passwd.is_file() and acl.is_file() else None


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (
            p
            for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")
            if Path(p).exists()
        ),
        None,
    )


def render_config(
    *,
    port: int,
    data_dir: Path,
    template: Path = CONF_TEMPLATE,
    extra: str = "",
    password_file: Path | None = None,
    acl_file: Path | None = None,
) -> Path:
    """Write a runnable copy of the project's config listening on 127.0.0.1:port, keeping data in data_dir.

    Without password_file, anonymous clients may connect and there is no ACL (the shipped
    config's auth lines, meant for docker compose, are replaced); with password_file,
    clients log in; with acl_file, topic access follows it (both as written by
    `satupintu integrator`, see satupintu/integrators.py).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    text = template.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^listener .*$", f"listener {port} 127.0.0.1", text)
    text = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {data_dir.resolve()}/", text)
    text = re.sub(r"(?m)^(password_file|acl_file) .*\n?", "", text)
    anonymous = "false" if password_file is not None else "true"
    text = re.sub(r"(?m)^allow_anonymous .*$", f"allow_anonymous {anonymous}", text)
    if password_file is not None:
        text += f"\npassword_file {password_file.resolve()}\n"
    if acl_file is not None:
        text += f"\nacl_file {acl_file.resolve()}\n"
    # When started as root, mosquitto would switch to the 'mosquitto' user and
    # lose access to data_dir; stay the user who started it.
    text += f"\nuser {getpass.getuser()}\n{extra}"
    conf = data_dir / "mosquitto.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


def start_broker(
    *,
    port: int,
    data_dir: Path,
    extra: str = "",
    wait_s: float = 10.0,
    password_file: Path | None = None,
    acl_file: Path | None = None,
    popen: Callable[..., subprocess.Popen] = subprocess.Popen,
) -> subprocess.Popen:
    """Start mosquitto with the project's config on 127.0.0.1:port; return once it accepts connections."""
    binary = mosquitto_binary()
    if binary is None:
        raise BrokerError(INSTALL_HINT)
    conf = render_config(port=port, data_dir=data_dir, extra=extra, password_file=password_file, acl_file=acl_file)
    log = open(data_dir / "mosquitto.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (data_dir / "mosquitto.log").read_text(errors="replace")[-2000:]
            raise BrokerError(f"mosquitto exited with {proc.returncode}:\n{tail}")
        if listening("127.0.0.1", port, timeout=0.2):
            return proc
        time.sleep(0.05)
    proc.terminate()
    raise BrokerError(f"mosquitto did not listen on 127.0.0.1:{port} within {wait_s:.0f}s")
