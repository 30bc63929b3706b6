"""The reference deployment (deploy/) refers to things that exist: every `cityops …` a systemd unit or the
compose file runs is a command `cityops` accepts, every file they name is in the project, every setting
the environment template sets is one cityops reads, and the template holds no secret. Cheap: nothing runs."""

from __future__ import annotations

import ast
import configparser
import re
import shlex
from pathlib import Path

import pytest

from cityops.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
# What a unit's specifiers stand for in these checks (systemd.unit(5) "Specifiers").
SPECIFIERS = {"%i": "8050", "%H": "host1", "%C": "/var/cache", "%%": "%"}
# gunicorn's own settings (deploy/gunicorn.conf.py) besides those of cityops.settings.
GUNICORN_SETTINGS = {"CITYOPS_BIND", "CITYOPS_WEB_WORKERS"}


def unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def expand(text: str) -> str:
    return re.sub(r"%.", lambda m: SPECIFIERS.get(m.group(0), m.group(0)), text)


def module_names(path: Path) -> set[str]:
    """What a module defines at its top level, or serves from its module ``__getattr__`` (app.py builds
    ``server`` on first use), without importing it."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            names |= {const.value for const in ast.walk(node) if isinstance(const, ast.Constant)
                      and isinstance(const.value, str)}
    return names


def check_command(argv: list[str]) -> None:
    """``cityops …``: argparse accepts it; ``gunicorn …``: its config file exists and ``app:server`` is there."""
    program = Path(argv[0]).name
    if program == "cityops":
        build_parser().parse_args(argv[1:])  # exits (SystemExit) on an unknown subcommand or option
    elif program == "gunicorn":
        assert (REPO / argv[argv.index("-c") + 1]).is_file()
        module, _, name = argv[-1].partition(":")
        assert name in module_names(REPO / f"{module}.py"), f"{argv[-1]} is not defined"
    elif program == "haproxy":
        assert "-f" in argv
    else:
        raise AssertionError(f"unexpected program {argv[0]}")


def test_there_are_units_for_every_cityops_process() -> None:
    names = {path.name for path in UNITS}
    assert {"cityops-ingest@.service", "cityops-indicators.service", "cityops-web@.service",
            "cityops-notify.service", "cityops-proxy.service", "cityops-timescale-jobs.service"} <= names


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_each_unit_runs_a_real_command_with_the_shared_settings(path: Path) -> None:
    service = unit(path)
    start = shlex.split(expand(service.get("Service", "ExecStart")))
    check_command(start)
    if Path(start[0]).name in ("cityops", "gunicorn"):
        assert service.get("Service", "EnvironmentFile") == "/etc/cityops/cityops.env"
        assert service.get("Service", "User") == "cityops"
    if path.with_suffix(".timer").exists():  # started by its timer, runs and ends
        assert service.get("Service", "Type") == "oneshot"
        assert {"Unit", "Service"} == set(service.sections())
    else:  # runs for good
        assert {"Unit", "Service", "Install"} <= set(service.sections())
        assert service.get("Service", "Restart") == "always"


def test_the_timescaledb_jobs_timer_starts_its_service_on_every_minute() -> None:
    timer = unit(DEPLOY / "systemd" / "cityops-timescale-jobs.timer")
    assert timer.get("Timer", "OnCalendar") == "*-*-* *:*:00"
    assert timer.get("Timer", "AccuracySec") == "1s"  # systemd's default would let it slip up to a minute
    assert timer.get("Install", "WantedBy") == "timers.target"
    service = unit(DEPLOY / "systemd" / "cityops-timescale-jobs.service")
    assert shlex.split(service.get("Service", "ExecStart"))[1:] == ["db", "run-jobs"]


def test_each_ingest_instance_has_a_name_of_its_own_and_shares_the_feed() -> None:
    service = unit(DEPLOY / "systemd" / "cityops-ingest@.service")
    assert service.get("Service", "Environment") == "CITYOPS_INGEST_NAME=%H-%i"
    assert "--protocol 5" in service.get("Service", "ExecStart")  # a shared subscription needs MQTT 5
    assert re.search(r"^CITYOPS_MQTT_SHARE_GROUP=\S+", (DEPLOY / "cityops.env.example").read_text(), re.MULTILINE)


def test_the_environment_template_sets_only_real_settings_and_no_secrets() -> None:
    settings_source = (REPO / "cityops" / "settings.py").read_text(encoding="utf-8")
    known = set(re.findall(r'"(CITYOPS_[A-Z_]+)"', settings_source)) | GUNICORN_SETTINGS
    assigned = dict(re.findall(r"^(CITYOPS_[A-Z_]+)=(.*)$", (DEPLOY / "cityops.env.example").read_text(),
                               re.MULTILINE))
    assert set(assigned) <= known, set(assigned) - known
    for name in ("CITYOPS_SECRET_KEY",):
        assert assigned[name] == "CHANGE-ME"
    for name in ("CITYOPS_DATABASE_URL", "CITYOPS_MQTT_URL"):
        assert ":CHANGE-ME@" in assigned[name]  # the password is the placeholder
    # The units give each instance its own name and address: the shared file must not override them.
    assert not {"CITYOPS_INGEST_NAME", "CITYOPS_BIND"} & set(assigned)


def test_the_compose_file_loads_and_runs_real_commands_on_files_that_exist() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"db", "broker", "db-init", "ingest-1", "ingest-2", "indicators-1", "indicators-2", "web1", "web2",
            "proxy", "timescale-jobs"} <= set(services)
    for name, service in services.items():
        if service.get("image") == "cityops":
            check_command(service.get("command") or ["gunicorn", "-c", "deploy/gunicorn.conf.py", "app:server"])
        elif "command" in service:
            check_command(service["command"])
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not source.startswith(("./broker", "./tls")):  # made by the operator
                assert (DEPLOY / source).exists(), f"{name}: {source}"
    # The database is the pair the tests run on (TimescaleDB 2.28 on PostgreSQL 15), never a moving tag.
    assert re.fullmatch(r"timescale/timescaledb:2\.28\.\d+-pg15", services["db"]["image"])
    names = [service["environment"]["CITYOPS_INGEST_NAME"] for name, service in services.items()
             if name.startswith("ingest-")]
    assert len(set(names)) == len(names) == 2
    # HAProxy's server lines name the compose file's web servers.
    config = (DEPLOY / "haproxy" / "cityops.cfg").read_text()
    assert set(re.findall(r"^\s*server (\S+) (\S+):8050", config, re.MULTILINE)) == {("web1", "web1"),
                                                                                      ("web2", "web2")}
    assert (DEPLOY / "Dockerfile").is_file()
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {"deploy/cityops.env", "deploy/db_password", ".env"} <= set(ignored)  # secrets stay out of the image
