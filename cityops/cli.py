"""The ``cityops`` command. Every failure prints one line and exits non-zero."""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from auth.roles import ROLES
from city import BUNDLED_CITIES_DIR, City, CityError, city_folder, load_city
from city.build import DEFAULT_SEED, DEFAULT_SENSORS, finish, write_synthetic_inventory
from city.folder import write_config
from city.model import read_boundaries, read_city_config
from city.packs import BUNDLED
from cityops.settings import NAME, Settings
from geo.boundaries import BoundaryError, area_km2
from ingest.mqtt import MqttUnavailable
from store import AccountError, Connection, StoreUnavailable
from vocabulary.terms import ELEMENT_KINDS

if TYPE_CHECKING:
    from datetime import datetime

    from reports.build import ReportContext
    from reports.spec import ReportSpec


class CommandError(Exception):
    """A failure to report as one line."""


def say(message: str) -> None:
    print(message, flush=True)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 1.0 <= value <= 86400.0:
        raise argparse.ArgumentTypeError("must be between 1 and 86400 seconds")
    return value


def _speed(text: str) -> float:
    from ingest.scenarios import MAX_SPEED

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 < value <= MAX_SPEED):
        raise argparse.ArgumentTypeError(f"must be above 0 and at most {MAX_SPEED:g}")
    return value


def _demo_history(text: str) -> timedelta:
    from cityops.demo import DEMO_RETENTION_DAYS
    from ingest.simulator_process import parse_duration

    try:
        period = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not timedelta(hours=1) <= period <= timedelta(days=DEMO_RETENTION_DAYS):
        raise argparse.ArgumentTypeError(f"must be between 1h and {DEMO_RETENTION_DAYS}d (the demo keeps readings"
                                         f" {DEMO_RETENTION_DAYS} days)")
    return period


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def cmd_city_build(args: argparse.Namespace, settings: Settings) -> None:
    folder = BUNDLED_CITIES_DIR / args.pack
    started = time.monotonic()
    say(f"building {args.pack} in {folder} ({args.sensors} sensors, seed {args.seed}) …")
    pack = importlib.import_module(BUNDLED[args.pack])
    city = pack.build(folder, sensors=args.sensors, seed=args.seed)
    _summarise(city)
    say(f"done in {time.monotonic() - started:.1f} s")


def cmd_city_import(args: argparse.Namespace, settings: Settings) -> None:
    from city.importer import import_level

    folder = city_folder(args.city)
    say(f"importing {args.file} as level {args.level!r} of {folder.name} …")
    result = import_level(
        Path(args.file),
        folder,
        city_id=folder.name,
        level=args.level,
        code_field=args.code_field,
        name_field=args.name_field,
        parent_field=args.parent_field,
        name_zh_field=args.name_zh_field,
        population_field=args.population_field,
        crs=args.crs,
    )
    say(f"level {result.level!r}: {result.units} units, {result.area_km2:,.1f} km²")
    if result.repaired:
        say(f"repaired invalid geometry of {len(result.repaired)}: {', '.join(result.repaired[:10])}")
    say(f"levels now: {' → '.join(result.levels)}  ({result.folder})")
    if result.new_city:
        say(
            "new city: set name, timezone and aqi_standard in city.toml, then add sensors.csv, "
            "units.csv and categories.toml (or `cityops city place` for a synthetic inventory)"
        )


def cmd_city_import_layer(args: argparse.Namespace, settings: Settings) -> None:
    from city.layers import import_layer

    folder = city_folder(args.city)
    say(f"importing {args.file} as element layer {args.layer!r} of {folder.name} …")
    roles = tuple(role.strip() for role in args.roles.split(",")) if args.roles else None
    result = import_layer(Path(args.file), folder, layer_id=args.layer, name=args.name, name_zh=args.name_zh,
                          kind=args.kind, roles=roles, min_zoom=args.min_zoom, name_field=args.name_field,
                          name_zh_field=args.name_zh_field, id_field=args.id_field, crs=args.crs,
                          licence=args.licence, attribution=args.attribution)
    layer = result.layer
    say(f"layer {layer.id!r} ({layer.kind}): {len(layer.elements)} elements, seen by {', '.join(layer.roles)}"
        f"{', from zoom ' + format(layer.min_zoom, 'g') if layer.min_zoom else ''}"
        f"{' (replaced)' if result.replaced else ''}")
    if not layer.attribution:
        say("no attribution given: set licence and attribution in layers.toml (docs/map.md)")


def cmd_city_place(args: argparse.Namespace, settings: Settings) -> None:
    folder = city_folder(args.city or settings.city)
    config = read_city_config(folder / "city.toml")
    say(f"placing {args.sensors} synthetic sensors and response units in {config.id} (seed {args.seed}) …")
    boundaries, _ = read_boundaries(folder, config.levels)
    write_synthetic_inventory(folder, boundaries, config.levels, sensors=args.sensors, seed=args.seed)
    marked = tuple(dict.fromkeys((*config.synthetic, "sensors", "units")))
    if marked != config.synthetic:
        write_config(folder, replace(config, synthetic=marked))
    _summarise(finish(folder))


def cmd_city_check(args: argparse.Namespace, settings: Settings) -> None:
    folder = city_folder(args.city or settings.city)
    _summarise(load_city(folder))


def database_url(settings: Settings) -> str:
    """The database to use: CITYOPS_DATABASE_URL, else the running demo's embedded one."""
    from cityops.embedded import configured_or_demo_database

    return _required(configured_or_demo_database(settings), "CITYOPS_DATABASE_URL", "database", settings)


def mqtt_url(settings: Settings, account: str) -> str:
    """The broker to use: CITYOPS_MQTT_URL, else the running demo's embedded one, signed in as the
    demo's ``account`` (``ingest`` or ``simulator``) when its broker has accounts."""
    from cityops.embedded import configured_or_demo_broker

    return _required(configured_or_demo_broker(settings, account), "CITYOPS_MQTT_URL", "broker", settings)


def _required(url: str | None, variable: str, what: str, settings: Settings) -> str:
    if url is None:
        raise CommandError(f"{variable} is not set and no demo {what} runs in {settings.data_dir}")
    return url


def cmd_db_init(args: argparse.Namespace, settings: Settings) -> None:
    import store

    url = database_url(settings)
    conn = store.connect(url, application_name="cityops-db-init")
    try:
        options = store.SchemaOptions(
            retention_days=args.retention_days,
            compress_after_days=args.compress_after_days,
            use_timescale=False if args.no_timescale else True if args.timescale else None,
        )
        report = store.init_schema(conn, options)
    finally:
        conn.close()
    applied = ", ".join(report.applied) if report.applied else "nothing (already current)"
    server = "TimescaleDB" if report.timescale else "plain PostgreSQL"
    say(f"schema version {report.version} ({server}); applied: {applied}")


def cmd_db_run_jobs(args: argparse.Namespace, settings: Settings) -> None:
    """What a timer runs every minute where TimescaleDB's own job scheduler fails (docs/operations.md);
    ``--every``: the same on a loop, for containers, which have no timer."""
    import store
    from cityops.process import stop_on_signals

    url = database_url(settings)
    if args.every is None:
        _run_due_jobs(url)
        return
    stop = stop_on_signals()
    say(f"run-jobs: the due TimescaleDB jobs every {args.every:g} s; Ctrl-C stops")
    while not stop.is_set():
        try:
            _run_due_jobs(url)
        except (CommandError, store.StoreUnavailable, store.DatabaseError) as error:
            say(f"run-jobs: {error}")  # and again at the next pass: the failed jobs are due in their next slot
        stop.wait(args.every)


def _run_due_jobs(url: str) -> None:
    from datetime import UTC, datetime

    import store

    conn = store.connect(url, application_name="cityops-run-jobs")
    try:
        if not store.read_settings(conn).timescale:
            say("no TimescaleDB jobs: the database is plain PostgreSQL (the first ingest worker refreshes the rollups"
                " and applies retention)")
            return
        runs = store.run_due_timescale_jobs(conn, datetime.now(UTC))
    finally:
        conn.close()
    for run in runs:
        outcome = f"failed: {run.error}" if run.error else "done"
        say(f"{run.job.kind} of {run.job.relation} (job {run.job.job_id}): {outcome} in {run.seconds:.1f} s")
    failed = [run for run in runs if run.error]
    if failed:
        raise CommandError(f"{len(failed)} of {len(runs)} TimescaleDB job(s) failed: "
                           + ", ".join(f"{run.job.kind} of {run.job.relation}" for run in failed))


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> None:
    from cityops.process import stop_on_signals
    from ingest.service import IngestOptions, retire, run_worker, run_workers

    options = IngestOptions(
        city=settings.city,
        database_url=database_url(settings),
        mqtt_url=mqtt_url(settings, "ingest"),
        workers=args.workers,
        protocol=args.protocol,
        share_group=settings.mqtt_share_group,
        name=ingest_name(settings),
    )
    stop = stop_on_signals()
    if args.retire:
        stored = retire(options, stop)
        who = options.name or "the unnamed ingest"
        if stop.is_set():
            raise CommandError(f"stopped before {who} was retired ({stored:,} messages stored); run it again")
        say(f"ingest: retired {who} ({args.workers} worker(s)): stored the {stored:,} messages the broker kept "
            "for it and ended its sessions")
        return
    shared = f" in share group {options.share_group} as {options.name}" if options.share_group else ""
    say(f"ingest: {args.workers} worker(s) for {settings.city} from {options.mqtt_url.split('@')[-1]}{shared}; "
        "Ctrl-C stops")
    if args.workers == 1:
        run_worker(options, 0, stop)
    else:
        run_workers(options, stop)


def ingest_name(settings: Settings) -> str | None:
    """CITYOPS_INGEST_NAME, else the host's name when ingest hosts share the feed: each host's workers
    then have client ids (and persistent sessions) of their own."""
    if settings.ingest_name or not settings.mqtt_share_group:
        return settings.ingest_name
    host = socket.gethostname().split(".")[0]
    if not NAME.fullmatch(host):
        raise CommandError(f"the host name {host[:80]!r} cannot name this ingest: set CITYOPS_INGEST_NAME")
    return host


def cmd_indicators_run(args: argparse.Namespace, settings: Settings) -> None:
    from cityops.process import stop_on_signals
    from cityops.vitals import context_for, run_forever

    url = database_url(settings)
    ctx = context_for(settings.city, settings.timezone)
    stop = stop_on_signals()
    say(f"indicators: {ctx.city.config.name}, {len(ctx.units):,} units, every {args.every:g} s"
        + (" (once)" if args.once else "; Ctrl-C stops"))
    run_forever(url, ctx, stop, every_s=args.every, once=args.once, say=say)


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> None:
    from cityops.backfill import backfill_history
    from cityops.process import stop_on_signals
    from ingest.simulator_process import SimulatorOptions, parse_duration, publish_live

    options = SimulatorOptions(
        city=settings.city, seed=args.seed, sensors=args.sensors, rate=args.rate, scenario=args.scenario,
        speed=args.speed,
        duration_s=parse_duration(args.duration).total_seconds() if args.duration else None, protocol=args.protocol,
    )
    if args.backfill:
        backfill_history(options, database_url(settings), parse_duration(args.backfill), say=say,
                         time_zone=settings.timezone)
        return
    stop = stop_on_signals()
    counts = publish_live(options, mqtt_url(settings, "simulator"), stop, say=say)
    say(f"simulate: published {counts['readings']:,} readings, {counts['events']:,} events, "
        f"{counts['unit_positions']:,} unit positions")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from cityops.demo import DemoOptions, run_demo
    from cityops.process import stop_on_signals

    stop = stop_on_signals()
    options = DemoOptions(city=args.city or settings.city, sensors=args.sensors,
                          data_dir=Path(args.data_dir) if args.data_dir else None, port=args.port,
                          history=args.history)
    run_demo(options, settings, stop, say)


def cmd_web(args: argparse.Namespace, settings: Settings) -> None:
    from app import create_app

    if not settings.database_url:
        settings = replace(settings, database_url=database_url(settings))
    web = create_app(settings, demo=args.demo)
    say(f"web app on http://{args.host}:{args.port}/ (development server;"
        " production: gunicorn -c deploy/gunicorn.conf.py app:server)")
    web.run(host=args.host, port=args.port, debug=False)


# -- reports ---------------------------------------------------------------------------------

def _report_progress(every_s: float = 2.0):
    """A progress callback that prints rows written at most every ``every_s`` seconds."""
    last = [time.monotonic()]

    def show(table: str, rows: int) -> None:
        if time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            say(f"report: {table}: {rows:,} rows …")
    return show


def _write_printable(conn: Connection, spec: ReportSpec, ctx: ReportContext, fmt: str, language: str,
                     file: BinaryIO, now: datetime) -> None:
    """The printable report (html or pdf) into ``file``; refused before reading when it is too big (MAX_ROWS)."""
    from reports.build import build_report, count_trend_rows
    from reports.printable import render_html, render_pdf
    from reports.printed import printable_report
    from reports.spec import check_size

    check_size(spec, ctx.units, fmt, count_trend_rows(conn, spec, ctx))
    report = build_report(conn, spec, ctx, user=_cli_actor(), now=now, audit_format=fmt)
    printable = printable_report(report, language)
    if fmt == "html":
        file.write(render_html(printable).encode("utf-8"))
    else:
        render_pdf(printable, file)


def cmd_report(args: argparse.Namespace, settings: Settings) -> None:
    import os
    from datetime import UTC, datetime

    import store
    from reports.build import ExportNotAudited, ReportContext, write_report
    from reports.spec import parse_spec

    started = time.monotonic()
    ctx = ReportContext.for_city(load_city(city_folder(settings.city)), settings.timezone)
    now = datetime.now(UTC)
    choice = {"from": args.start, "to": args.to, "unit": args.unit or [], "domain": args.domain or [],
              "bucket": args.bucket}
    if args.level:
        choice["level"] = args.level
    spec = parse_spec(choice, ctx.units, ctx.zone, now)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CommandError(f"no folder {out.parent} for {out.name}")
    conn = store.connect(database_url(settings), application_name="cityops-report")
    partial = out.with_name(f".{out.name}.partial")  # a failed export leaves no half-written file behind
    try:
        try:
            store.require_schema(conn)
        except store.SchemaMissing as error:
            raise CommandError(str(error)) from None
        say(f"report: {args.table if args.format != 'xlsx' else 'all tables'} as {args.format}, "
            f"{spec.start:%Y-%m-%d %H:%M} to {spec.end:%Y-%m-%d %H:%M} UTC, by {spec.bucket}, "
            f"{spec.unit_count(ctx.units):,} units × {len(spec.domain_list)} domains (up to "
            f"{spec.estimated_rows(ctx.units):,} trend rows) …")
        with open(partial, "wb") as file:
            try:
                if args.format in ("html", "pdf"):  # the whole printable report; --table does not apply
                    _write_printable(conn, spec, ctx, args.format, args.language, file, now)
                else:
                    write_report(conn, spec, ctx, args.format, args.table, file, user=_cli_actor(), now=now,
                                 progress=_report_progress())
            except ExportNotAudited as error:  # refused before a byte was written; the partial file goes
                raise CommandError(str(error)) from None
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
        conn.close()
    say(f"report: wrote {out} ({out.stat().st_size:,} bytes) in {time.monotonic() - started:.1f} s")


# -- user accounts --------------------------------------------------------------------------

# One line of stdin is the password; reading stops here so a runaway pipe cannot fill memory
# (anything this long is refused by the password rules anyway).
_MAX_PASSWORD_LINE = 4096


def _cli_actor() -> str:
    """Who changes accounts from the command line, as the audit log shows it: ``cli:<OS user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "cli:unknown"


def _read_password() -> str:
    """The new password: typed twice at a terminal (not echoed), else one line of stdin.

    Only the line break is removed, so spaces at either end are part of the password.
    """
    if sys.stdin.isatty():
        password = getpass.getpass("new password: ")
        if getpass.getpass("new password again: ") != password:
            raise CommandError("the two passwords differ")
    else:
        try:
            line = sys.stdin.readline(_MAX_PASSWORD_LINE)
        except UnicodeDecodeError:  # its message would quote bytes of the password
            raise CommandError("the password on stdin is not text in the locale's encoding") from None
        password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CommandError("no password given: write it as one line to stdin")
    return password


@contextmanager
def _accounts_database(settings: Settings) -> Iterator[Connection]:
    """A connection to the database, whose schema must include the accounts tables."""
    import store

    conn = store.connect(database_url(settings), application_name="cityops-user")
    try:
        try:
            store.require_schema(conn)
        except store.SchemaMissing as error:
            raise CommandError(str(error)) from None
        yield conn
    finally:
        conn.close()


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> None:
    from auth.accounts import add_user, check_name
    from auth.roles import check_role
    from store import AccountExists

    check_name(args.name)  # before asking for a password
    check_role(args.role)
    password = _read_password()
    with _accounts_database(settings) as conn:
        try:
            outcome = add_user(conn, args.name, args.role, password, actor=_cli_actor(), update=args.update)
        except AccountExists as error:
            raise CommandError(f"{error}: add --update to change its role and password") from None
    say(f"user {args.name} {outcome} (role {args.role})")


def cmd_user_passwd(args: argparse.Namespace, settings: Settings) -> None:
    from auth.accounts import check_name, set_password

    check_name(args.name)
    password = _read_password()
    with _accounts_database(settings) as conn:
        set_password(conn, args.name, password, actor=_cli_actor())
    say(f"user {args.name}: password changed")


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> None:
    from auth.accounts import disable_user

    with _accounts_database(settings) as conn:
        disable_user(conn, args.name, actor=_cli_actor())
    say(f"user {args.name} disabled")


def cmd_user_list(args: argparse.Namespace, settings: Settings) -> None:
    import store

    with _accounts_database(settings) as conn:
        users = store.list_users(conn)
    if not users:
        say("no users yet: cityops user add NAME --role admin")
        return
    width = max(len(user.name) for user in users)
    say(f"{'name':<{width}}  {'role':<10}  {'status':<8}  created (UTC)")
    for user in users:
        status = "disabled" if user.disabled else "enabled"
        say(f"{user.name:<{width}}  {user.role:<10}  {status:<8}  {user.created_at:%Y-%m-%d %H:%M}")


# -- broker accounts of devices (cityops.devices) ------------------------------------------------


def _broker_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.broker_dir) if args.broker_dir else settings.broker_dir or settings.data_dir / "broker"


def _reload_broker(args: argparse.Namespace, settings: Settings, done: str) -> None:
    """Make the broker reread its files; a broker that cannot be told is a failure (the change is not in force)."""
    from cityops.devices import PID_FILE, BrokerNotReloaded, reload_broker

    how = "kill -HUP <mosquitto pid>, or systemctl reload mosquitto"
    if args.no_reload:
        say(f"broker not reloaded (--no-reload): the change applies when it rereads its files ({how})")
        return
    pid_file = (Path(args.pid_file) if args.pid_file
                else settings.broker_pid_file or _broker_dir(args, settings) / PID_FILE)
    try:
        pid = reload_broker(pid_file)
    except BrokerNotReloaded as error:
        raise CommandError(f"{done}, but no broker was reloaded ({error}): until you reload it ({how}), "
                           "it goes on with the old accounts") from None
    say(f"broker reloaded (pid {pid})")


def cmd_device_add(args: argparse.Namespace, settings: Settings) -> None:
    from city.model import read_sensors
    from cityops.devices import KINDS_WITH_ID, Device, DeviceFiles, check_password, generate_password

    folder_of_city = city_folder(args.city or settings.city)
    city = read_city_config(folder_of_city / "city.toml").id
    device_id = args.id if args.id is not None or args.kind not in KINDS_WITH_ID else args.name
    device = Device(args.name, args.kind, city, device_id)
    device.check()  # before reading a password
    if args.kind == "sensor" and device_id not in set(read_sensors(folder_of_city / "sensors.csv")["sensor_id"]):
        say(f"note: {city}'s sensors.csv has no sensor {device_id}: its readings are rejected unless the city "
            "allows self-registration (then it waits for `cityops sensor accept`)")
    if args.password_stdin:
        try:
            password = sys.stdin.readline(_MAX_PASSWORD_LINE).removesuffix("\n").removesuffix("\r")
        except UnicodeDecodeError:  # its message would quote bytes of the password
            raise CommandError("the password on stdin is not text in the locale's encoding") from None
        check_password(password)
    else:
        password = generate_password()
    folder = _broker_dir(args, settings)
    outcome = DeviceFiles(folder).add(device, password, update=args.update)
    rights = ", ".join(f"{access} {topic}" for access, topic in device.topics())
    say(f"device {device.name} {outcome}: {device.describe()}, may {rights} ({folder})")
    if not args.password_stdin:
        say(f"password (shown once; the broker keeps only a hash): {password}")
    _reload_broker(args, settings, f"device {device.name} {outcome}")


def cmd_device_revoke(args: argparse.Namespace, settings: Settings) -> None:
    from cityops.devices import DeviceFiles

    removed = DeviceFiles(_broker_dir(args, settings)).revoke(args.name)
    say(f"device {args.name} revoked" + (f" ({removed.describe()})" if removed else " (a password line only)"))
    _reload_broker(args, settings, f"device {args.name} revoked")


def cmd_device_list(args: argparse.Namespace, settings: Settings) -> None:
    from cityops.devices import DeviceFiles

    files = DeviceFiles(_broker_dir(args, settings))
    devices = files.devices()
    hashes = files.password_hashes()
    rows = [(d.name, d.kind, d.city, d.id or "—", d.added_at[:16].replace("T", " "),
             "" if d.name in hashes else "no password line: cannot connect") for d in devices]
    managed = {d.name for d in devices}
    rows += [(name, "—", "—", "—", "—", "not from cityops device: may connect, may do nothing")
             for name in sorted(set(hashes) - managed)]
    if not rows:
        say(f"no devices in {files.folder}: cityops device add NAME --kind KIND")
        return
    table = [("name", "kind", "city", "id", "added (UTC)", ""), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(5)]
    for row in table:
        say("  ".join(f"{value:<{width}}" for value, width in zip(row, [*widths, 0], strict=True)).rstrip())


def cmd_sensor_accept(args: argparse.Namespace, settings: Settings) -> None:
    import store

    with _accounts_database(settings) as conn:
        accepted = store.accept_sensor(conn, args.sensor_id, actor=_cli_actor())
    say(f"sensor {args.sensor_id} accepted: the vital signs count it from their next run" if accepted
        else f"sensor {args.sensor_id} is verified already")


def cmd_sensor_pending(args: argparse.Namespace, settings: Settings) -> None:
    import store

    with _accounts_database(settings) as conn:
        pending = store.unverified_sensors(conn, limit=1000)
    if not pending:
        say("no sensor waits for acceptance")
        return
    say("sensor  first seen (UTC)  position  area  metrics")
    for sensor in pending:
        first = f"{sensor.first_seen:%Y-%m-%d %H:%M}" if sensor.first_seen else "—"
        where = f"{sensor.lon:.5f},{sensor.lat:.5f}" if sensor.lon is not None else "—"
        say(f"{sensor.sensor_id}  {first}  {where}  {sensor.scope_code or '—'}  {';'.join(sensor.metrics)}")


# -- notifications --------------------------------------------------------------------------

def cmd_notify_load(args: argparse.Namespace, settings: Settings) -> None:
    import os

    import store
    import store.notifications as notify_store
    from notifications.config import ConfigError, known_of, read_config

    city = load_city(city_folder(settings.city))
    text = Path(args.file).read_text(encoding="utf-8")
    with _accounts_database(settings) as conn:
        known = known_of(city, users=[user.name for user in store.list_users(conn)])
        try:
            config = read_config(text, os.environ, known)
        except ConfigError as error:
            raise CommandError(f"{args.file}: nothing loaded:\n  " + "\n  ".join(error.problems)) from None
        counts = notify_store.replace_config(conn, config, actor=_cli_actor())
    say(f"notifications: {len(config.channels)} channel(s), {len(config.people)} people,"
        f" {len(config.departments)} department(s), {len(config.rules)} rule(s);"
        f" {counts['added']} added, {counts['changed']} changed, {counts['removed']} removed")


def cmd_notify_rota(args: argparse.Namespace, settings: Settings) -> None:
    from zoneinfo import ZoneInfo

    import store.notifications as notify_store
    from notifications.rota import RotaError, check_people, read_rota_csv

    city = load_city(city_folder(settings.city))
    zone = ZoneInfo(settings.timezone or city.config.timezone)
    try:
        shifts = read_rota_csv(Path(args.file).read_bytes(), zone)
    except RotaError as error:
        raise CommandError(f"{args.file}: nothing imported:\n  " + "\n  ".join(error.problems)) from None
    if not shifts:
        raise CommandError(f"{args.file}: the rota has no shifts")
    with _accounts_database(settings) as conn:
        try:
            check_people(shifts, (person.name for person in notify_store.read_config(conn).people))
        except RotaError as error:
            raise CommandError(f"{args.file}: nothing imported: {error}") from None
        removed = notify_store.replace_rota(
            conn, [notify_store.ShiftRow(s.role, s.person, s.start, s.end) for s in shifts], actor=_cli_actor())
    say(f"rota: {len(shifts)} shift(s) from {shifts[0].start:%Y-%m-%d %H:%M} UTC imported; {removed} replaced")


def cmd_notify_run(args: argparse.Namespace, settings: Settings) -> None:
    from cityops.process import stop_on_signals
    from notifications.worker import context_for, run_forever

    if not settings.secret_key:
        raise CommandError("CITYOPS_SECRET_KEY is not set: the acknowledgement links are signed with the web app's key")
    if not settings.public_url:
        raise CommandError("CITYOPS_PUBLIC_URL is not set: the messages link to the web app there")
    url = database_url(settings)
    ctx = context_for(settings.city, base_url=settings.public_url, secret_key=settings.secret_key,
                      time_zone=settings.timezone)
    stop = stop_on_signals()
    say(f"notify: {ctx.city.config.name}, links to {ctx.base_url}, every {args.every:g} s"
        + (" (once)" if args.once else "; Ctrl-C stops"))
    run_forever(url, ctx, stop, every_s=args.every, once=args.once, say=say)


def _summarise(city: City) -> None:
    say(f"{city.config.name} ({city.id}), levels {' → '.join(city.levels)}")
    for level in city.levels:
        units = city.boundaries[level]
        population = units["population"].sum()
        people = f", population {population:,.0f}" if population > 0 else ""
        say(f"  {level}: {len(units)} units, {area_km2(units.geometry).sum():,.1f} km²{people}")
        if city.repaired.get(level):
            say(f"    repaired geometry: {', '.join(city.repaired[level][:10])}")
    kinds = city.sensors["kind"].value_counts()
    say(f"  sensors: {len(city.sensors)} ({', '.join(f'{k} {n}' for k, n in kinds.items())})")
    unit_kinds = city.units["kind"].value_counts()
    say(f"  response units: {len(city.units)} ({', '.join(f'{k} {n}' for k, n in unit_kinds.items())})")
    say(f"  incident categories: {len(city.categories)}")
    for layer in city.layers.values():
        say(f"  layer {layer.id}: {len(layer.elements)} {layer.kind}{' (synthetic)' if layer.synthetic else ''}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityops", description="cityops: city operations command centre")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    city = commands.add_parser("city", help="city folders: build the bundled ones, import boundaries, check")
    city_commands = city.add_subparsers(dest="city_command", required=True, metavar="ACTION")

    build = city_commands.add_parser("build", help="build a bundled city from its installed data package")
    build.add_argument("pack", choices=sorted(BUNDLED))
    build.add_argument("--sensors", type=_positive, default=DEFAULT_SENSORS)
    build.add_argument("--seed", type=int, default=DEFAULT_SEED)
    build.set_defaults(handler=cmd_city_build)

    imp = city_commands.add_parser("import", help="add one level of boundaries (GeoJSON, GeoPackage, Shapefile)")
    imp.add_argument("file")
    imp.add_argument("--city", required=True, help="city id (folder under data/cities) or a folder path")
    imp.add_argument("--level", required=True, help="level name, e.g. district")
    imp.add_argument("--code-field", required=True)
    imp.add_argument("--name-field", required=True)
    imp.add_argument("--parent-field", help="field holding the parent's code (every level but the top)")
    imp.add_argument("--name-zh-field", help="field holding the Chinese name")
    imp.add_argument("--population-field", help="field holding the population")
    imp.add_argument("--crs", help="the file's coordinate reference system, e.g. EPSG:2263 (overrides the file)")
    imp.set_defaults(handler=cmd_city_import)

    layer = city_commands.add_parser("import-layer", help="add or replace an element layer of points (hospitals, "
                                     "hydrants…) from GeoJSON, GeoPackage or Shapefile")
    layer.add_argument("file")
    layer.add_argument("--city", required=True, help="city id (folder under data/cities) or a folder path")
    layer.add_argument("--layer", required=True, help="layer id, e.g. hospitals (layers/<id>.geojson)")
    layer.add_argument("--kind", choices=ELEMENT_KINDS,
                       help="kind of element: its symbol, and which incidents ask for it (needed for a new layer)")
    layer.add_argument("--name", help="the layer's name (default: as before, else the id)")
    layer.add_argument("--name-zh", help="the layer's Chinese name")
    layer.add_argument("--roles", help=f"comma-separated roles that see it (default: all: {','.join(ROLES)})")
    layer.add_argument("--min-zoom", type=float, help="shown on maps from this zoom on (default 0: always)")
    layer.add_argument("--name-field", default="name", help="field holding each element's name (default: name)")
    layer.add_argument("--name-zh-field", help="field holding each element's Chinese name (default: name_zh if any)")
    layer.add_argument("--id-field", default="id", help="field holding each element's id (default: id if any)")
    layer.add_argument("--crs", help="the file's coordinate reference system, e.g. EPSG:2263 (overrides the file)")
    layer.add_argument("--licence", help="the data's licence (layers.toml)")
    layer.add_argument("--attribution", help="the attribution the licence asks for, shown on the maps")
    layer.set_defaults(handler=cmd_city_import_layer)

    place = city_commands.add_parser("place", help="generate a synthetic sensor and response-unit inventory")
    place.add_argument("--city", help="city id or folder (default: CITYOPS_CITY)")
    place.add_argument("--sensors", type=_positive, default=DEFAULT_SENSORS)
    place.add_argument("--seed", type=int, default=DEFAULT_SEED)
    place.set_defaults(handler=cmd_city_place)

    check = city_commands.add_parser("check", help="load and validate a city folder, print a summary")
    check.add_argument("--city", help="city id or folder (default: CITYOPS_CITY)")
    check.set_defaults(handler=cmd_city_check)

    db = commands.add_parser("db", help="the database")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    init = db_commands.add_parser("init", help="create or upgrade the schema (idempotent)")
    init.add_argument("--retention-days", type=_positive, default=90)
    init.add_argument("--compress-after-days", type=_positive, default=7, help="TimescaleDB only")
    path = init.add_mutually_exclusive_group()
    path.add_argument("--no-timescale", action="store_true", help="plain tables even where TimescaleDB is installed")
    path.add_argument("--timescale", action="store_true",
                      help="TimescaleDB or an error (default: TimescaleDB where preloaded, else plain tables)")
    init.set_defaults(handler=cmd_db_init)
    run_jobs = db_commands.add_parser(
        "run-jobs", help="run the TimescaleDB jobs that are due (compression, retention, the rollups' refresh), "
                         "each at its own schedule: every minute from a timer where TimescaleDB's scheduler fails")
    run_jobs.add_argument("--every", type=_positive_seconds, metavar="SECONDS",
                          help="keep running, looking for due jobs every SECONDS (containers: no timer there)")
    run_jobs.set_defaults(handler=cmd_db_run_jobs)

    ingest = commands.add_parser("ingest", help="MQTT → database workers")
    ingest.add_argument("--workers", type=_positive, default=1, help="N > 1 uses an MQTT 5 shared subscription")
    ingest.add_argument("--protocol", choices=["auto", "5", "3.1.1"], default="auto")
    ingest.add_argument("--retire", action="store_true",
                        help="for good: store what the broker keeps for this ingest's workers (CITYOPS_INGEST_NAME, "
                             "--workers), then end their sessions")
    ingest.set_defaults(handler=cmd_ingest)

    indicators = commands.add_parser("indicators", help="the city's vital signs")
    indicator_commands = indicators.add_subparsers(dest="indicators_command", required=True)
    indicators_run = indicator_commands.add_parser("run", help="compute the vital signs on a schedule")
    indicators_run.add_argument("--once", action="store_true", help="compute once and stop")
    indicators_run.add_argument("--every", type=_positive_seconds, default=30.0,
                                help="seconds between runs (default: 30)")
    indicators_run.set_defaults(handler=cmd_indicators_run)

    from ingest.scenarios import SCENARIOS

    simulate = commands.add_parser("simulate", help="publish realistic feeds for the city, or backfill history")
    simulate.add_argument("--sensors", type=_positive, help="simulate this many of the registry's sensors")
    simulate.add_argument("--rate", type=float, default=1.0, help="report R times as often as the registry says")
    simulate.add_argument("--scenario", choices=SCENARIOS)
    simulate.add_argument("--speed", type=_speed, default=1.0,
                          help="a scenario builds up this many times as fast (e.g. 12: a storm's 2 h in 10 min)")
    simulate.add_argument("--duration", help="stop after this long, e.g. 10m (default: until Ctrl-C)")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--backfill", metavar="PERIOD", help="write PERIOD (e.g. 30d) of history into the store")
    simulate.add_argument("--protocol", choices=["auto", "5", "3.1.1"], default="auto")
    simulate.set_defaults(handler=cmd_simulate)

    demo = commands.add_parser("demo", help="everything embedded: database, broker, simulator, ingest")
    demo.add_argument("--city", help="city id or folder (default: CITYOPS_CITY)")
    demo.add_argument("--sensors", type=_positive, help="simulate this many of the city's sensors")
    demo.add_argument("--data-dir", help="where the embedded servers keep their data (default: .cityops)")
    demo.add_argument("--port", type=_positive, default=8050, help="port of the web app (default: 8050)")
    demo.add_argument("--history", type=_demo_history, default="1d", metavar="PERIOD",
                      help="on a first run, this much simulated history before now, e.g. 6h (default: 1d)")
    demo.set_defaults(handler=cmd_demo)

    web = commands.add_parser("web", help="serve the web app (development server; production: gunicorn,"
                               " see deploy/gunicorn.conf.py)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8050)
    web.add_argument("--demo", action="store_true",
                     help="without CITYOPS_SECRET_KEY, sign sessions with a random key (one process; "
                          "sessions end with it)")
    web.set_defaults(handler=cmd_web)

    from reports.spec import BUCKETS, FORMATS
    from reports.tables import TABLES
    from vocabulary.messages import DEFAULT_LANGUAGE, LANGUAGES

    report = commands.add_parser("report", help="the analyst's report as a file: csv, xlsx, parquet, html or pdf")
    report.add_argument("--from", dest="start", required=True, metavar="T",
                        help="start: ISO 8601 time (with offset, else city time) or a date (YYYY-MM-DD)")
    report.add_argument("--to", required=True, metavar="T", help="end: a time, or a date (that day included)")
    report.add_argument("--unit", action="append", metavar="CODE", help="a unit code (repeat); default: every unit "
                        "of --level")
    report.add_argument("--level", help="the level of the units when none is named (default: the lowest)")
    report.add_argument("--domain", action="append", metavar="D", help="a domain or index (repeat); default: all")
    report.add_argument("--bucket", choices=BUCKETS, default="day")
    report.add_argument("--table", choices=TABLES, default="trend",
                        help="the table for csv and parquet (xlsx holds every table of its kind; "
                             "html and pdf: the whole report)")
    report.add_argument("--format", required=True, choices=FORMATS)
    report.add_argument("--out", required=True, metavar="FILE")
    report.add_argument("--language", choices=LANGUAGES, default=DEFAULT_LANGUAGE,
                        help="the language of an html or pdf report")
    report.set_defaults(handler=cmd_report)

    user = commands.add_parser("user", help="accounts of the web app: add, disable, set a password, list")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="add an account; the password is one line on stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, metavar="ROLE", help=f"one of {', '.join(ROLES)}")
    add.add_argument("--update", action="store_true",
                     help="if the account exists: set its role and password and enable it again")
    add.set_defaults(handler=cmd_user_add)
    disable = user_commands.add_parser("disable", help="stop an account from signing in")
    disable.add_argument("name")
    disable.set_defaults(handler=cmd_user_disable)
    passwd = user_commands.add_parser("passwd", help="set a new password (one line on stdin)")
    passwd.add_argument("name")
    passwd.set_defaults(handler=cmd_user_passwd)
    listing = user_commands.add_parser("list", help="the accounts: name, role, status, created")
    listing.set_defaults(handler=cmd_user_list)

    from cityops.devices import KINDS

    device = commands.add_parser("device", help="broker accounts of sensors, units and systems: add, list, revoke")
    device_commands = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    broker_options = argparse.ArgumentParser(add_help=False)
    broker_options.add_argument("--broker-dir", help="the broker's device files (default: CITYOPS_BROKER_DIR, "
                                "else the demo's broker folder)")
    changes = argparse.ArgumentParser(add_help=False, parents=[broker_options])
    changes.add_argument("--pid-file", help="pid file of the Mosquitto to reload (default: CITYOPS_BROKER_PID_FILE, "
                         "else mosquitto.pid in the broker folder)")
    changes.add_argument("--no-reload", action="store_true", help="only write the files (the broker is not running)")
    device_add = device_commands.add_parser(
        "add", parents=[changes],
        help="an account that may publish only for itself (sensor, unit, integration) or read the city (ingest); "
             "the password is generated and shown once")
    device_add.add_argument("name", help="the broker user name")
    device_add.add_argument("--kind", required=True, choices=KINDS)
    device_add.add_argument("--id", help="the sensor or unit it speaks for (default: the name)")
    device_add.add_argument("--city", help="city id or folder (default: CITYOPS_CITY)")
    device_add.add_argument("--password-stdin", action="store_true",
                            help="read the password as one line from stdin instead of generating one")
    device_add.add_argument("--update", action="store_true", help="replace an existing account's rights and password")
    device_add.set_defaults(handler=cmd_device_add)
    device_revoke = device_commands.add_parser("revoke", parents=[changes],
                                               help="remove an account; a reload disconnects it")
    device_revoke.add_argument("name")
    device_revoke.set_defaults(handler=cmd_device_revoke)
    device_list = device_commands.add_parser("list", parents=[broker_options], help="the accounts and their rights")
    device_list.set_defaults(handler=cmd_device_list)

    sensor = commands.add_parser("sensor", help="self-registered sensors: list those waiting, accept one")
    sensor_commands = sensor.add_subparsers(dest="sensor_command", required=True, metavar="ACTION")
    accept = sensor_commands.add_parser("accept", help="count a self-registered sensor in the vital signs (audited)")
    accept.add_argument("sensor_id")
    accept.set_defaults(handler=cmd_sensor_accept)
    pending = sensor_commands.add_parser("pending", help="sensors that registered themselves and wait for acceptance")
    pending.set_defaults(handler=cmd_sensor_pending)

    notify = commands.add_parser("notify", help="notifications: load channels, people and rules; the rota; the worker")
    notify_commands = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    notify_load = notify_commands.add_parser("load", help="make channels, people and rules those of a TOML file"
                                             " (audited)")
    notify_load.add_argument("file")
    notify_load.set_defaults(handler=cmd_notify_load)
    notify_rota = notify_commands.add_parser("rota", help="import the on-duty rota from a CSV file (audited)")
    notify_rota.add_argument("file")
    notify_rota.set_defaults(handler=cmd_notify_rota)
    notify_run = notify_commands.add_parser("run", help="run the rules, escalate and send, on a schedule")
    notify_run.add_argument("--once", action="store_true", help="one pass and stop")
    notify_run.add_argument("--every", type=_positive_seconds, default=30.0,
                            help="seconds between passes (default: 30)")
    notify_run.set_defaults(handler=cmd_notify_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every command it runs
    try:
        settings = Settings.from_environment()
        args.handler(args, settings)
    except (
        CityError,
        BoundaryError,
        CommandError,
        AccountError,
        StoreUnavailable,
        MqttUnavailable,
        ValueError,
        OSError,
        ImportError,
    ) as error:
        print(f"cityops: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cityops: interrupted", file=sys.stderr)
        return 130
    return 0
