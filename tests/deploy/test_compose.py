"""docker-compose.yml, .env.example, Dockerfile and the broker's compose entrypoint, without a Docker engine.

The compose file is checked by a real compose client (`docker-compose config`, from
Debian's docker-compose package, which scripts/test.sh installs, validates it against
the Compose Specification schema; `docker compose` where that plugin exists), and for
the topology itself: services, health checks, two ingestors on one shared subscription,
every setting from .env. The broker's entrypoint runs here for real (a private Mosquitto).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from satupintu.broker import free_port, listening, render_config
from satupintu.integrators import CredentialStore
from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
APP_SERVICES = ("migrate", "ingest-1", "ingest-2", "web", "simulator", "integrator", "feeds")


def env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


VAR = re.compile(r"\$\$|\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution: ${X}, ${X:-default}, ${X:?error}, $$ (enough for this file)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.groups()
        if env.get(name):
            return env[name]
        if op and op.endswith("?"):
            raise AssertionError(f"{name} is required: {arg}")
        return arg if op else ""

    return VAR.sub(sub, value)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw: dict) -> dict:
    return interpolate(raw, env_example())


def compose_client() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    pytest.fail("no compose client: scripts/test.sh installs Debian's docker-compose (apt-get install docker-compose)")


def test_a_compose_client_accepts_the_file_with_the_example_env(tmp_path: Path) -> None:
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    shutil.copytree(REPO / "mosquitto", tmp_path / "mosquitto")
    for profile in ([], ["--profile", "demo"]):
        done = subprocess.run(
            [*compose_client(), *profile, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert {"mosquitto", "postgres", "migrate", "ingest-1", "ingest-2", "web", "simulator"} <= set(resolved["services"])


def test_services_health_checks_and_start_order(compose: dict) -> None:
    s = compose["services"]
    assert {"mosquitto", "postgres", *APP_SERVICES} == set(s)
    assert "pg_isready" in " ".join(s["postgres"]["healthcheck"]["test"])
    assert "mosquitto_sub" in " ".join(s["mosquitto"]["healthcheck"]["test"])  # a real login, not an open port
    assert "/api/health" in " ".join(s["web"]["healthcheck"]["test"])
    assert s["migrate"]["command"] == ["db", "upgrade"]
    assert s["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("ingest-1", "ingest-2", "web"):  # nobody races to create the schema
        assert s[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert s[name]["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert s["simulator"]["profiles"] == ["demo"] and s["simulator"]["command"][0] == "simulate"
    assert s["integrator"]["profiles"] == ["tools"]
    assert s["feeds"]["command"] == ["feeds"]  # regional warnings: BMKG and CAP feeds polled into MQTT
    assert s["feeds"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert s["web"]["ports"] == ["8000:8000"] and s["mosquitto"]["ports"] == ["1883:1883"]


def test_two_ingestors_share_one_subscription_with_sessions_of_their_own(compose: dict) -> None:
    s = compose["services"]
    ingestors = [n for n, svc in s.items() if svc.get("command") == ["ingest"]]
    assert ingestors == ["ingest-1", "ingest-2"]
    envs = [s[n]["environment"] for n in ingestors]
    assert envs[0]["SATUPINTU_MQTT_SHARED_GROUP"] == envs[1]["SATUPINTU_MQTT_SHARED_GROUP"] == "ingest"
    assert envs[0]["SATUPINTU_MQTT_CLIENT_ID"] != envs[1]["SATUPINTU_MQTT_CLIENT_ID"]  # two persistent sessions


def test_every_setting_comes_from_env(raw: dict, compose: dict) -> None:
    example = env_example()
    used = {m.group(1) for m in VAR.finditer(COMPOSE.read_text()) if m.group(1)}
    required = {m.group(1) for m in VAR.finditer(COMPOSE.read_text()) if m.group(2) == ":?"}
    assert required <= set(example), "a required variable is missing from .env.example"
    assert used - {"SATUPINTU_IMAGE_TAG"} <= set(example) | {"COMPOSE_PROFILES"}, "document every variable"
    s = compose["services"]
    for name in APP_SERVICES:
        assert s[name]["env_file"] == ".env", name  # any SATUPINTU_* setting in .env reaches the app
    web = s["web"]["environment"]
    assert web["SATUPINTU_DATABASE_URL"] == "postgresql+psycopg://satupintu:change-me-postgres@postgres:5432/satupintu"
    assert web["SATUPINTU_MQTT_URL"] == "mqtt://satupintu-ingest:change-me-ingest@mosquitto:1883"
    assert s["simulator"]["environment"]["SATUPINTU_MQTT_URL"].startswith("mqtt://demo-simulator:change-me-simulator@")
    assert s["postgres"]["environment"]["POSTGRES_PASSWORD"] == example["POSTGRES_PASSWORD"]
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD is required"):
        interpolate(raw, {k: v for k, v in example.items() if k != "POSTGRES_PASSWORD"})


def test_the_broker_runs_the_projects_config_with_login_and_acl(compose: dict) -> None:
    m = compose["services"]["mosquitto"]
    assert "./mosquitto:/mosquitto/config:ro" in m["volumes"]
    conf = (REPO / "mosquitto" / "mosquitto.conf").read_text()
    for line in (
        "listener 1883",
        "allow_anonymous false",
        "password_file /mosquitto/data/passwd",
        "acl_file /mosquitto/data/acl",
        "persistence_location /mosquitto/data/",
    ):
        assert f"\n{line}\n" in conf, line
    assert m["entrypoint"][-1] == "/mosquitto/config/docker-entrypoint.sh"


def test_the_starter_acl_is_what_satupintu_integrator_writes(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.init_platform()
    store.add_integrator("demo-simulator", city="morotai", sources=["+"], agencies=["+"])
    assert (REPO / "mosquitto" / "acl.compose").read_text() == (tmp_path / "acl").read_text()


def test_the_image_installs_the_project_and_its_context_holds_it() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and re.search(r"(?m)^FROM python:3\.1\d-slim$", dockerfile)
    assert "RUN pip install ." in dockerfile and 'ENTRYPOINT ["satupintu"]' in dockerfile
    for src in re.findall(r"(?m)^COPY (\S+(?: \S+)*) \S+$", dockerfile):
        for path in src.split():
            assert (REPO / path).exists(), path
    ignored = (REPO / ".dockerignore").read_text().split()
    assert not {"app", "ingest", "dashboards", "satupintu", "pyproject.toml"} & set(ignored)
    assert {".venv", ".env", "data", ".git"} <= set(ignored)


# --- the broker's entrypoint, run for real -------------------------------------


def connects(port: int, user: str | None, password: str | None) -> bool:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{user}", protocol=mqtt.MQTTv311)
    if user:
        c.username_pw_set(user, password)
    try:
        c.connect("127.0.0.1", port)
        while not c.is_connected():
            rc = c.loop(timeout=0.2)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return False
        return True
    except OSError:
        return False
    finally:
        c.disconnect()


def run_entrypoint(tmp_path: Path, port: int, **env: str) -> subprocess.Popen:
    data = tmp_path / "data"
    conf = render_config(port=port, data_dir=data, password_file=data / "passwd", acl_file=data / "acl")
    proc = subprocess.Popen(
        ["sh", str(REPO / "mosquitto" / "docker-entrypoint.sh")],
        env={
            "PATH": "/usr/sbin:/usr/bin:/bin:/usr/local/bin:/usr/local/sbin",
            "MOSQUITTO_DATA": str(data),
            "MOSQUITTO_CONF": str(conf),
            "MOSQUITTO_STARTER_ACL": str(REPO / "mosquitto" / "acl.compose"),
            **env,
        },
    )
    for _ in range(200):
        if listening("127.0.0.1", port, timeout=0.1):
            return proc
        assert proc.poll() is None, "the entrypoint exited"
        subprocess.run(["sleep", "0.05"], check=True)
    raise AssertionError("the broker did not listen")


def test_the_entrypoint_sets_platform_passwords_from_env_and_keeps_integrators(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "data").mkdir()
    CredentialStore(tmp_path / "data").add_integrator("acme", city="morotai", sources=["s1"], password="acme-pw-123456")
    broker = run_entrypoint(tmp_path, port, MQTT_INGEST_PASSWORD="first-ingest", MQTT_SIMULATOR_PASSWORD="sim-pw")
    try:
        assert connects(port, "satupintu-ingest", "first-ingest")
        assert connects(port, "demo-simulator", "sim-pw")
        assert connects(port, "acme", "acme-pw-123456")  # an integrator added before is kept
        assert not connects(port, None, None)  # anonymous refused
        assert not connects(port, "satupintu-ingest", "wrong")
        assert "plain" not in (tmp_path / "data" / "passwd").read_text()
        assert "first-ingest" not in (tmp_path / "data" / "passwd").read_text()  # hashed
    finally:
        broker.terminate()
        broker.wait(10)
    broker = run_entrypoint(tmp_path, port, MQTT_INGEST_PASSWORD="second-ingest")  # a changed .env, a restart
    try:
        assert connects(port, "satupintu-ingest", "second-ingest")
        assert not connects(port, "satupintu-ingest", "first-ingest")
        assert connects(port, "acme", "acme-pw-123456")
    finally:
        broker.terminate()
        broker.wait(10)
