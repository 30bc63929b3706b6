"""The schema, as numbered migrations: the one place to read or change table definitions.

Each migration runs in its own transaction: first its ``sql`` (both paths), then the part
for the path the database was set up with — ``plain`` PostgreSQL or ``timescale``. Table
and column names are a public contract for analysts (docs/contract.md "Database"): add columns
and tables in new migrations, never rename silently, and document everything with
``COMMENT ON``. Policies that depend on settings (retention, compression, refresh) are not
here but in :mod:`store.schema`, which reconciles them with the stored settings.
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    version: int
    name: str
    sql: str = ""
    plain: str = ""
    timescale: str = ""

    def statements(self, timescale: bool) -> list[str]:
        """The SQL to run, in order, on a plain or a Timescale database."""
        return [text for text in (self.sql, self.timescale if timescale else self.plain) if text.strip()]


# Created before any migration, so that migrations can be recorded and settings kept.
BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migrations IS 'Schema migrations applied to this database (cityops store).';
COMMENT ON COLUMN schema_migrations.version IS 'Migration number; applied in ascending order.';
COMMENT ON COLUMN schema_migrations.name IS 'Short name of the migration.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the migration was applied (UTC).';

CREATE TABLE IF NOT EXISTS store_settings (
    key text PRIMARY KEY,
    value text NOT NULL
);
COMMENT ON TABLE store_settings IS 'Options the schema was set up with (cityops db init): TimescaleDB, retention.';
COMMENT ON COLUMN store_settings.key IS 'Setting name: timescale, retention_days, compress_after_days.';
COMMENT ON COLUMN store_settings.value IS 'Setting value as text (true/false, a number of days).';
"""

_CORE = """
CREATE TABLE sensors (
    sensor_id text COLLATE "C" PRIMARY KEY,
    kind text,
    metrics text[] NOT NULL,
    lon double precision,
    lat double precision,
    expected_interval_s integer,
    noise_zone text,
    scope_code text,
    scopes jsonb,
    registered_by text NOT NULL CHECK (registered_by IN ('registry', 'ingest')),
    in_maintenance boolean NOT NULL DEFAULT false,
    first_seen timestamptz,
    last_seen timestamptz
) WITH (fillfactor = 50);  -- every batch updates last_seen: room on the page keeps updates HOT
COMMENT ON TABLE sensors IS 'Sensor registry: the city''s sensors.csv plus sensors first seen by the ingest.';
COMMENT ON COLUMN sensors.sensor_id IS 'Sensor id, as in the MQTT topic cityops/<city>/readings/<sensor_id>.';
COMMENT ON COLUMN sensors.kind IS 'Sensor kind (air_quality, noise, …); unknown for sensors registered by the ingest.';
COMMENT ON COLUMN sensors.metrics IS 'Metric names the sensor reports (docs/vital-signs.md).';
COMMENT ON COLUMN sensors.lon IS 'Longitude, WGS 84 degrees.';
COMMENT ON COLUMN sensors.lat IS 'Latitude, WGS 84 degrees.';
COMMENT ON COLUMN sensors.expected_interval_s IS 'Expected seconds between readings; later means stale.';
COMMENT ON COLUMN sensors.noise_zone IS 'GB 3096 acoustic zone class (0, 1, 2, 3, 4a) for noise sensors, else null.';
COMMENT ON COLUMN sensors.scope_code IS 'Code of the lowest-level administrative unit containing the sensor.';
COMMENT ON COLUMN sensors.scopes IS 'Containing administrative unit at every level: {"<level>": "<code>", …}.';
COMMENT ON COLUMN sensors.registered_by IS 'registry (from sensors.csv) or ingest (first seen in a feed).';
COMMENT ON COLUMN sensors.in_maintenance IS 'True while the sensor is in maintenance: its silence is expected.';
COMMENT ON COLUMN sensors.first_seen IS 'Time of the first reading or sighting stored (UTC).';
COMMENT ON COLUMN sensors.last_seen IS 'Time of the newest reading stored (UTC), to within 30 seconds.';

CREATE TABLE units (
    unit_id text PRIMARY KEY,
    kind text NOT NULL,
    name text,
    home_lon double precision,
    home_lat double precision,
    lon double precision,
    lat double precision,
    status text NOT NULL DEFAULT 'available',
    position_time timestamptz,
    scope_code text,
    scopes jsonb
) WITH (fillfactor = 50);  -- positions update the current state all the time
COMMENT ON TABLE units IS 'Response units (units.csv plus units first seen in a feed) and their current state.';
COMMENT ON COLUMN units.unit_id IS 'Unit id, as in the MQTT topic cityops/<city>/units/<unit_id>.';
COMMENT ON COLUMN units.kind IS 'fire, police, ambulance, city_management or utility.';
COMMENT ON COLUMN units.name IS 'Display name from units.csv.';
COMMENT ON COLUMN units.home_lon IS 'Home (station) longitude, WGS 84 degrees.';
COMMENT ON COLUMN units.home_lat IS 'Home (station) latitude, WGS 84 degrees.';
COMMENT ON COLUMN units.lon IS 'Current longitude, WGS 84 degrees (the home until a position is reported).';
COMMENT ON COLUMN units.lat IS 'Current latitude, WGS 84 degrees (the home until a position is reported).';
COMMENT ON COLUMN units.status IS 'Current status: available, busy or offline.';
COMMENT ON COLUMN units.position_time IS 'Time of the newest reported position (UTC); null if none yet.';
COMMENT ON COLUMN units.scope_code IS 'Code of the lowest-level administrative unit at the current position.';
COMMENT ON COLUMN units.scopes IS 'Administrative unit at every level at the position: {"<level>": "<code>", …}.';

CREATE TABLE events (
    source text NOT NULL,
    id text NOT NULL,
    time timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    category text NOT NULL,
    severity text NOT NULL,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    title text NOT NULL,
    detail text,
    reporter_phone text,
    scope_code text,
    scopes jsonb,
    PRIMARY KEY (source, id)
);
CREATE INDEX events_time_idx ON events (time);
COMMENT ON TABLE events IS 'Every event as received (hotline, sensors, patrols, …); stored once per (source, id).';
COMMENT ON COLUMN events.source IS 'hotline, sensor, patrol, camera or external.';
COMMENT ON COLUMN events.id IS 'Event id given by the source; unique within the source.';
COMMENT ON COLUMN events.time IS 'When the event happened, as reported (UTC).';
COMMENT ON COLUMN events.received_at IS 'When the event was stored (UTC).';
COMMENT ON COLUMN events.category IS 'Incident category: a key of the city''s categories.toml.';
COMMENT ON COLUMN events.severity IS 'minor, major or critical.';
COMMENT ON COLUMN events.lon IS 'Longitude, WGS 84 degrees.';
COMMENT ON COLUMN events.lat IS 'Latitude, WGS 84 degrees.';
COMMENT ON COLUMN events.title IS 'Short description (at most 200 characters).';
COMMENT ON COLUMN events.detail IS 'Longer description (at most 4000 characters), optional.';
COMMENT ON COLUMN events.reporter_phone IS 'Reporter''s phone number: personal data, masked on screen and in exports.';
COMMENT ON COLUMN events.scope_code IS 'Code of the lowest-level administrative unit containing the event.';
COMMENT ON COLUMN events.scopes IS 'Containing administrative unit at every level: {"<level>": "<code>", …}.';

CREATE TABLE rejects (
    time timestamptz NOT NULL,
    topic text NOT NULL,
    reason text NOT NULL,
    payload text NOT NULL
);
CREATE INDEX rejects_time_idx ON rejects (time);
COMMENT ON TABLE rejects IS 'Messages (or records in them) the ingest refused, with the reason.';
COMMENT ON COLUMN rejects.time IS 'When the message was received (UTC).';
COMMENT ON COLUMN rejects.topic IS 'MQTT topic the message arrived on.';
COMMENT ON COLUMN rejects.reason IS 'Why it was refused.';
COMMENT ON COLUMN rejects.payload IS 'The first 2 KiB of the payload, as text.';

CREATE TABLE process_status (
    process_id text PRIMARY KEY,
    kind text NOT NULL,
    host text,
    pid integer,
    started_at timestamptz,
    heartbeat_at timestamptz NOT NULL,
    state text NOT NULL,
    messages_total bigint,
    readings_total bigint,
    rejects_total bigint,
    rate_per_s double precision,
    lag_s double precision,
    last_message_at timestamptz,
    detail jsonb
);
COMMENT ON TABLE process_status IS 'Heartbeat and counters of each background process (ingest workers, indicators).';
COMMENT ON COLUMN process_status.process_id IS 'Stable id of the process, e.g. ingest-nyc-0.';
COMMENT ON COLUMN process_status.kind IS 'Process kind: ingest, indicators, …';
COMMENT ON COLUMN process_status.host IS 'Host name the process runs on.';
COMMENT ON COLUMN process_status.pid IS 'Operating-system process id.';
COMMENT ON COLUMN process_status.started_at IS 'When the process started (UTC).';
COMMENT ON COLUMN process_status.heartbeat_at IS 'When the process last reported (UTC); old means stuck or gone.';
COMMENT ON COLUMN process_status.state IS 'What the process says it is doing (running, database unavailable, …).';
COMMENT ON COLUMN process_status.messages_total IS 'Messages handled since start.';
COMMENT ON COLUMN process_status.readings_total IS 'Readings stored since start.';
COMMENT ON COLUMN process_status.rejects_total IS 'Rejects stored since start.';
COMMENT ON COLUMN process_status.rate_per_s IS 'Recent readings stored per second.';
COMMENT ON COLUMN process_status.lag_s IS 'Seconds between receiving a message and committing it, last batch.';
COMMENT ON COLUMN process_status.last_message_at IS 'When the newest message was received (UTC).';
COMMENT ON COLUMN process_status.detail IS 'Further process-specific figures (JSON).';
"""

_READINGS = """
-- Ids use the "C" collation (bytewise): the key indexes are maintained and sorted much faster
-- than with a language collation, and ids have no language order anyway.
CREATE TABLE readings (
    time timestamptz NOT NULL,
    sensor_id text COLLATE "C" NOT NULL,
    metric text COLLATE "C" NOT NULL,
    value double precision NOT NULL,
    CONSTRAINT readings_sensor_metric_time_key UNIQUE (sensor_id, metric, time)
);
COMMENT ON TABLE readings IS 'One row per sensor reading; a redelivered reading is stored once.';
COMMENT ON COLUMN readings.time IS 'Time of the measurement (UTC).';
COMMENT ON COLUMN readings.sensor_id IS 'Sensor id (sensors.sensor_id).';
COMMENT ON COLUMN readings.metric IS 'Metric name (docs/vital-signs.md), e.g. pm25.';
COMMENT ON COLUMN readings.value IS 'Measured value in the metric''s unit (docs/vital-signs.md).';
"""

# Both rollups have the same name and columns on both paths; only their nature differs.
_ROLLUP_COMMENTS = """
COMMENT ON {kind} readings_{width} IS 'Readings per sensor, metric and {span} (UTC buckets).';
COMMENT ON COLUMN readings_{width}.bucket IS 'Start of the {span} (UTC).';
COMMENT ON COLUMN readings_{width}.sensor_id IS 'Sensor id (sensors.sensor_id).';
COMMENT ON COLUMN readings_{width}.metric IS 'Metric name (docs/vital-signs.md).';
COMMENT ON COLUMN readings_{width}.readings_count IS 'Number of readings in the bucket.';
COMMENT ON COLUMN readings_{width}.value_sum IS 'Sum of the values.';
COMMENT ON COLUMN readings_{width}.value_min IS 'Smallest value.';
COMMENT ON COLUMN readings_{width}.value_max IS 'Largest value.';
COMMENT ON COLUMN readings_{width}.value_avg IS 'Mean value (value_sum / readings_count).';
"""

_PLAIN_ROLLUP = """
CREATE TABLE readings_{width} (
    bucket timestamptz NOT NULL,
    sensor_id text COLLATE "C" NOT NULL,
    metric text COLLATE "C" NOT NULL,
    readings_count bigint NOT NULL,
    value_sum double precision NOT NULL,
    value_min double precision NOT NULL,
    value_max double precision NOT NULL,
    value_avg double precision GENERATED ALWAYS AS (value_sum / readings_count) STORED,
    PRIMARY KEY (sensor_id, metric, bucket)
) WITH (fillfactor = {fillfactor});
CREATE INDEX readings_{width}_bucket_brin ON readings_{width} USING brin (bucket);
"""

_TIMESCALE_ROLLUP = """
CREATE MATERIALIZED VIEW readings_{width}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '{interval}', time) AS bucket,
       sensor_id,
       metric,
       count(*) AS readings_count,
       sum(value) AS value_sum,
       min(value) AS value_min,
       max(value) AS value_max,
       avg(value) AS value_avg
FROM readings
GROUP BY bucket, sensor_id, metric
WITH NO DATA;
"""

# Plain PostgreSQL: a BRIN index serves time ranges (rows arrive roughly in time order), and
# the rollups are tables recomputed from readings by store.rollups for the queued minutes.
_READINGS_PLAIN = (
    "CREATE INDEX readings_time_brin ON readings USING brin (time);\n"
    + _PLAIN_ROLLUP.format(width="1m", fillfactor=100)
    + _PLAIN_ROLLUP.format(width="1h", fillfactor=70)  # updated by every batch during its hour
    + _ROLLUP_COMMENTS.format(kind="TABLE", width="1m", span="minute")
    + _ROLLUP_COMMENTS.format(kind="TABLE", width="1h", span="hour")
)

# TimescaleDB: daily chunks, compressed per sensor and metric; the rollups are continuous
# aggregates with real-time aggregation. Their policies live in store.schema.
_READINGS_TIMESCALE = (
    """
SELECT create_hypertable('readings', 'time', chunk_time_interval => INTERVAL '1 day');
ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'sensor_id, metric',
    timescaledb.compress_orderby = 'time'
);
"""
    + _TIMESCALE_ROLLUP.format(width="1m", interval="1 minute")
    + _TIMESCALE_ROLLUP.format(width="1h", interval="1 hour")
    + _ROLLUP_COMMENTS.format(kind="VIEW", width="1m", span="minute")
    + _ROLLUP_COMMENTS.format(kind="VIEW", width="1h", span="hour")
)

_UNIT_POSITIONS = """
CREATE TABLE unit_positions (
    time timestamptz NOT NULL,
    unit_id text NOT NULL,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    status text NOT NULL,
    kind text NOT NULL,
    CONSTRAINT unit_positions_unit_time_key UNIQUE (unit_id, time)
);
COMMENT ON TABLE unit_positions IS 'Every reported position of a response unit (the track); units holds the newest.';
COMMENT ON COLUMN unit_positions.time IS 'Time of the position report (UTC).';
COMMENT ON COLUMN unit_positions.unit_id IS 'Unit id (units.unit_id).';
COMMENT ON COLUMN unit_positions.lon IS 'Longitude, WGS 84 degrees.';
COMMENT ON COLUMN unit_positions.lat IS 'Latitude, WGS 84 degrees.';
COMMENT ON COLUMN unit_positions.status IS 'Status reported with the position: available, busy or offline.';
COMMENT ON COLUMN unit_positions.kind IS 'Unit kind reported with the position.';
"""

# Plain PostgreSQL: the minutes that received new readings, for store.rollups to recompute.
# Keyed by the writing session as well, so two ingest workers never wait on each other here.
_ROLLUP_QUEUE_PLAIN = """
CREATE TABLE rollup_queue (
    minute timestamptz NOT NULL,
    writer integer NOT NULL,
    PRIMARY KEY (minute, writer)
);
COMMENT ON TABLE rollup_queue IS 'Minutes with new readings whose rollups are not yet recomputed (plain PostgreSQL).';
COMMENT ON COLUMN rollup_queue.minute IS 'Start of the minute (UTC).';
COMMENT ON COLUMN rollup_queue.writer IS 'Backend process id of the session that queued it.';
"""

# Accounts (auth/ hashes the passwords; only users.password_hash ever holds one), the audit
# trail, and sign-in attempts for rate limiting. docs/contract.md "HTTP" names the roles.
_ACCOUNTS = """
CREATE TABLE users (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9._-]{1,64}$'),
    role text NOT NULL CHECK (role IN ('viewer', 'dispatcher', 'analyst', 'admin')),
    password_hash text NOT NULL,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE users IS 'Accounts of the web app and API (cityops user add|disable|passwd).';
COMMENT ON COLUMN users.name IS 'Sign-in name: 1-64 of a-z 0-9 . _ -';
COMMENT ON COLUMN users.role IS 'viewer, dispatcher, analyst or admin (docs/contract.md "HTTP").';
COMMENT ON COLUMN users.password_hash IS 'Salted password hash (werkzeug scrypt format); never the password.';
COMMENT ON COLUMN users.disabled IS 'True: the account cannot sign in.';
COMMENT ON COLUMN users.created_at IS 'When the account was created (UTC).';
COMMENT ON COLUMN users.password_changed_at IS 'When the password was last set (UTC); older sessions may be refused.';

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    time timestamptz NOT NULL DEFAULT now(),
    "user" text NOT NULL,
    action text NOT NULL,
    target text,
    before jsonb,
    after jsonb,
    address text
);
CREATE INDEX audit_log_time_idx ON audit_log (time);
CREATE INDEX audit_log_user_time_idx ON audit_log ("user", time);
COMMENT ON TABLE audit_log IS 'Every state change and every view of unmasked personal data: who, what, when.';
COMMENT ON COLUMN audit_log.id IS 'Row number; orders rows written at the same time.';
COMMENT ON COLUMN audit_log.time IS 'When it happened (UTC; the start of the writing transaction).';
COMMENT ON COLUMN audit_log."user" IS 'Who: a user name, or cli:<OS user> / settings for changes outside the web app.';
COMMENT ON COLUMN audit_log.action IS 'What, as <object>.<verb>: user.add, user.update, user.passwd, user.disable, …';
COMMENT ON COLUMN audit_log.target IS 'What it was done to: a user name, an incident id, … (or null).';
COMMENT ON COLUMN audit_log.before IS 'State of the object before (JSON, never a password or hash); null if it is new.';
COMMENT ON COLUMN audit_log.after IS 'State of the object after (JSON, never a password or hash).';
COMMENT ON COLUMN audit_log.address IS 'Client IP address of the request; null for the command line.';

CREATE TABLE login_attempts (
    time timestamptz NOT NULL DEFAULT now(),
    name text NOT NULL,
    address text,
    success boolean NOT NULL
);
CREATE INDEX login_attempts_name_time_idx ON login_attempts (name, time);
CREATE INDEX login_attempts_address_time_idx ON login_attempts (address, time);
COMMENT ON TABLE login_attempts IS 'Every sign-in attempt, for rate limiting per name and per address.';
COMMENT ON COLUMN login_attempts.time IS 'When the attempt was made (UTC).';
COMMENT ON COLUMN login_attempts.name IS 'The name given (lower-cased, clipped to 64 characters); it may not exist.';
COMMENT ON COLUMN login_attempts.address IS 'Client IP address; null if unknown.';
COMMENT ON COLUMN login_attempts.success IS 'True if it signed in; false if refused (wrong, disabled, rate-limited).';
"""

# Request latency of the web app, summed over every worker (web.metrics flushes each worker's
# counts here every few seconds), so /metrics answers the same from any worker.
_REQUEST_LATENCY = """
CREATE TABLE request_latency (
    route text NOT NULL,
    method text NOT NULL,
    status_class text NOT NULL,
    le double precision NOT NULL,
    requests bigint NOT NULL,
    PRIMARY KEY (route, method, status_class, le)
);
COMMENT ON TABLE request_latency IS 'Web requests per latency bucket since the table was created (not cumulative).';
COMMENT ON COLUMN request_latency.route IS 'The access rule the path matched (a pattern such as /district/[^/]+).';
COMMENT ON COLUMN request_latency.method IS 'HTTP method.';
COMMENT ON COLUMN request_latency.status_class IS 'Status class of the answer: 2xx, 3xx, 4xx or 5xx.';
COMMENT ON COLUMN request_latency.le IS 'Bucket upper bound in seconds (Infinity for the last bucket).';
COMMENT ON COLUMN request_latency.requests IS 'Requests that took longer than the previous bound and at most le.';

CREATE TABLE request_latency_totals (
    route text NOT NULL,
    method text NOT NULL,
    status_class text NOT NULL,
    requests bigint NOT NULL,
    seconds double precision NOT NULL,
    PRIMARY KEY (route, method, status_class)
);
COMMENT ON TABLE request_latency_totals IS 'Web requests and their summed latency, per route, method and status class.';
COMMENT ON COLUMN request_latency_totals.route IS 'The access rule the path matched.';
COMMENT ON COLUMN request_latency_totals.method IS 'HTTP method.';
COMMENT ON COLUMN request_latency_totals.status_class IS 'Status class of the answer: 2xx, 3xx, 4xx or 5xx.';
COMMENT ON COLUMN request_latency_totals.requests IS 'Number of requests.';
COMMENT ON COLUMN request_latency_totals.seconds IS 'Sum of their latencies in seconds.';
"""

# The vital signs (docs/vital-signs.md §4): the current state (small, what screens and the API
# read), the history (a row per unit and domain at most every 5 minutes and at every level
# change), the hysteresis state per sensor and metric, and the sensors' open alarms.
_INDICATORS = """
CREATE TABLE indicator_current (
    scope_code text NOT NULL,
    domain text NOT NULL,
    level_name text NOT NULL,
    parent text,
    score double precision,
    level smallint CHECK (level IN (0, 1, 2)),
    level_since timestamptz,
    computed_at timestamptz NOT NULL,
    newest_input timestamptz,
    oldest_input timestamptz,
    forecast jsonb,
    explanation jsonb NOT NULL,
    PRIMARY KEY (scope_code, domain)
);
COMMENT ON TABLE indicator_current IS 'The latest vital signs: one row per unit (and the city) and domain.';
COMMENT ON COLUMN indicator_current.scope_code IS 'Unit code, or the city id for the whole city.';
COMMENT ON COLUMN indicator_current.domain IS 'Domain id (air, traffic, …), or index for the unit''s vital-sign index.';
COMMENT ON COLUMN indicator_current.level_name IS 'The unit''s level (e.g. borough, nta), or city.';
COMMENT ON COLUMN indicator_current.parent IS 'Code of the containing unit; null for the city.';
COMMENT ON COLUMN indicator_current.score IS 'Score 0-100 (100 healthy); null when grey.';
COMMENT ON COLUMN indicator_current.level IS '0 green, 1 amber, 2 red; null grey (no fresh data).';
COMMENT ON COLUMN indicator_current.level_since IS 'When the current level began (UTC).';
COMMENT ON COLUMN indicator_current.computed_at IS 'When this value was computed (UTC).';
COMMENT ON COLUMN indicator_current.newest_input IS 'Time of the newest reading behind the value (UTC).';
COMMENT ON COLUMN indicator_current.oldest_input IS 'Time of the oldest reading behind the value (UTC).';
COMMENT ON COLUMN indicator_current.forecast IS 'Short-term trend: predicted level and minutes to it (§4.6).';
COMMENT ON COLUMN indicator_current.explanation IS 'The inputs: sensors or children, with values and times.';

CREATE TABLE indicator_values (
    time timestamptz NOT NULL,
    scope_code text NOT NULL,
    level_name text NOT NULL,
    domain text NOT NULL,
    score double precision,
    level smallint CHECK (level IN (0, 1, 2)),
    level_changed boolean NOT NULL,
    explanation jsonb
);
COMMENT ON TABLE indicator_values IS 'Vital-sign history: per unit and domain every 5 minutes and at level changes.';
COMMENT ON COLUMN indicator_values.time IS 'When the value was computed (UTC).';
COMMENT ON COLUMN indicator_values.scope_code IS 'Unit code, or the city id.';
COMMENT ON COLUMN indicator_values.level_name IS 'The unit''s level, or city.';
COMMENT ON COLUMN indicator_values.domain IS 'Domain id, or index.';
COMMENT ON COLUMN indicator_values.score IS 'Score 0-100; null when grey.';
COMMENT ON COLUMN indicator_values.level IS '0 green, 1 amber, 2 red; null grey.';
COMMENT ON COLUMN indicator_values.level_changed IS 'True when the level differs from the previous row.';
COMMENT ON COLUMN indicator_values.explanation IS 'The inputs, kept on level changes (why it turned this colour).';

CREATE TABLE hysteresis_state (
    sensor_id text COLLATE "C" NOT NULL,
    metric text COLLATE "C" NOT NULL,
    state jsonb NOT NULL,
    PRIMARY KEY (sensor_id, metric)
);
COMMENT ON TABLE hysteresis_state IS 'Per sensor and metric: the level held and its timers (§4.5).';
COMMENT ON COLUMN hysteresis_state.sensor_id IS 'Sensor id.';
COMMENT ON COLUMN hysteresis_state.metric IS 'Metric judged (aqi and tpi for computed ones).';
COMMENT ON COLUMN hysteresis_state.state IS 'JSON: level, held, better_since (green, amber), time of the last step.';

CREATE TABLE sensor_alarms (
    id bigserial PRIMARY KEY,
    sensor_id text NOT NULL,
    metric text NOT NULL,
    level smallint NOT NULL CHECK (level IN (1, 2)),
    opened_at timestamptz NOT NULL,
    cleared_at timestamptz,
    value double precision,
    event_id text NOT NULL
);
CREATE UNIQUE INDEX sensor_alarms_open_key ON sensor_alarms (sensor_id, metric, level) WHERE cleared_at IS NULL;
CREATE INDEX sensor_alarms_opened_idx ON sensor_alarms (opened_at);
COMMENT ON TABLE sensor_alarms IS 'Amber/red alarms of sensors: at most one open per (sensor, metric, level).';
COMMENT ON COLUMN sensor_alarms.id IS 'Alarm number.';
COMMENT ON COLUMN sensor_alarms.sensor_id IS 'Sensor id.';
COMMENT ON COLUMN sensor_alarms.metric IS 'Metric judged (aqi and tpi for computed ones).';
COMMENT ON COLUMN sensor_alarms.level IS '1 amber, 2 red.';
COMMENT ON COLUMN sensor_alarms.opened_at IS 'When the level was reached (UTC).';
COMMENT ON COLUMN sensor_alarms.cleared_at IS 'When the level fell below this alarm''s level (UTC); null while open.';
COMMENT ON COLUMN sensor_alarms.value IS 'The value that raised it, in the metric''s unit.';
COMMENT ON COLUMN sensor_alarms.event_id IS 'The id of the event written for it (events.source = sensor).';
"""

# Incidents (docs/contract.md "Database"): managed cases made of one or more events, their
# lifecycle, the units dispatched to them; the categories with their SLAs (categories.toml).
_INCIDENTS = """
CREATE TABLE incident_categories (
    key text PRIMARY KEY,
    name text NOT NULL,
    name_zh text,
    domain text NOT NULL,
    sla_minor_min integer NOT NULL,
    sla_major_min integer NOT NULL,
    sla_critical_min integer NOT NULL
);
COMMENT ON TABLE incident_categories IS 'The city''s incident categories (categories.toml), with their SLAs.';
COMMENT ON COLUMN incident_categories.key IS 'Category key, as events name it.';
COMMENT ON COLUMN incident_categories.name IS 'Name in English.';
COMMENT ON COLUMN incident_categories.name_zh IS 'Name in Chinese.';
COMMENT ON COLUMN incident_categories.domain IS 'The vital-sign domain the category belongs to.';
COMMENT ON COLUMN incident_categories.sla_minor_min IS 'Minutes from receipt to resolution for a minor incident.';
COMMENT ON COLUMN incident_categories.sla_major_min IS 'Minutes allowed for a major incident.';
COMMENT ON COLUMN incident_categories.sla_critical_min IS 'Minutes allowed for a critical incident.';

CREATE TABLE incidents (
    id bigserial PRIMARY KEY,
    category text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('minor', 'major', 'critical')),
    status text NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'acknowledged', 'dispatched', 'on_scene', 'resolved')),
    title text NOT NULL,
    detail text,
    reporter_phone text,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    scope_code text,
    scopes jsonb,
    received_at timestamptz NOT NULL,
    last_event_at timestamptz NOT NULL,
    events_count integer NOT NULL DEFAULT 1,
    acknowledged_at timestamptz,
    dispatched_at timestamptz,
    arrived_at timestamptz,
    resolved_at timestamptz,
    due_at timestamptz NOT NULL,
    reopened_count integer NOT NULL DEFAULT 0,
    resolution_note text,
    created_by text NOT NULL
);
CREATE INDEX incidents_open_idx ON incidents (category, scope_code, last_event_at) WHERE status <> 'resolved';
CREATE INDEX incidents_received_idx ON incidents (received_at);
CREATE INDEX incidents_status_idx ON incidents (status);
COMMENT ON TABLE incidents IS 'Managed cases: one or more events, their lifecycle, SLA and units.';
COMMENT ON COLUMN incidents.id IS 'Incident id (the one the API returns).';
COMMENT ON COLUMN incidents.category IS 'Category key (incident_categories).';
COMMENT ON COLUMN incidents.severity IS 'minor, major or critical: the worst of its events.';
COMMENT ON COLUMN incidents.status IS 'new, acknowledged, dispatched, on_scene or resolved.';
COMMENT ON COLUMN incidents.title IS 'Title of its first event.';
COMMENT ON COLUMN incidents.detail IS 'Detail of its first event.';
COMMENT ON COLUMN incidents.reporter_phone IS 'Reporter''s phone: personal data, masked on screen and in exports.';
COMMENT ON COLUMN incidents.lon IS 'Longitude of its first event, WGS 84 degrees.';
COMMENT ON COLUMN incidents.lat IS 'Latitude of its first event, WGS 84 degrees.';
COMMENT ON COLUMN incidents.scope_code IS 'Lowest-level administrative unit.';
COMMENT ON COLUMN incidents.scopes IS 'Administrative unit at every level: {"<level>": "<code>", …}.';
COMMENT ON COLUMN incidents.received_at IS 'When its first event was stored (UTC): the SLA clock starts.';
COMMENT ON COLUMN incidents.last_event_at IS 'Time of its newest event (UTC); events join within the storm window.';
COMMENT ON COLUMN incidents.events_count IS 'Number of events grouped in it.';
COMMENT ON COLUMN incidents.acknowledged_at IS 'First acknowledged (UTC).';
COMMENT ON COLUMN incidents.dispatched_at IS 'First unit dispatched (UTC).';
COMMENT ON COLUMN incidents.arrived_at IS 'First unit on scene (UTC).';
COMMENT ON COLUMN incidents.resolved_at IS 'Resolved (UTC); null while open.';
COMMENT ON COLUMN incidents.due_at IS 'SLA deadline (UTC): received_at + the category''s minutes for the severity.';
COMMENT ON COLUMN incidents.reopened_count IS 'How often it was reopened.';
COMMENT ON COLUMN incidents.resolution_note IS 'What the resolving officer wrote.';
COMMENT ON COLUMN incidents.created_by IS 'event (from an event) or the user who created it.';

CREATE TABLE incident_events (
    source text NOT NULL,
    event_id text NOT NULL,
    incident_id bigint NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (source, event_id),
    FOREIGN KEY (source, event_id) REFERENCES events (source, id)
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id);
COMMENT ON TABLE incident_events IS 'Which incident each event belongs to: every event to exactly one.';
COMMENT ON COLUMN incident_events.source IS 'Event source.';
COMMENT ON COLUMN incident_events.event_id IS 'Event id within its source.';
COMMENT ON COLUMN incident_events.incident_id IS 'The incident.';

CREATE TABLE incident_transitions (
    id bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id),
    time timestamptz NOT NULL,
    "user" text NOT NULL,
    action text NOT NULL,
    from_status text,
    to_status text NOT NULL,
    unit_id text,
    note text
);
CREATE INDEX incident_transitions_incident_idx ON incident_transitions (incident_id, time);
COMMENT ON TABLE incident_transitions IS 'Every step of every incident: who, when, from which status to which.';
COMMENT ON COLUMN incident_transitions.id IS 'Step number.';
COMMENT ON COLUMN incident_transitions.incident_id IS 'The incident.';
COMMENT ON COLUMN incident_transitions.time IS 'When (UTC).';
COMMENT ON COLUMN incident_transitions."user" IS 'Who: a user name, or event for grouping and creation.';
COMMENT ON COLUMN incident_transitions.action IS 'create, group, ack, dispatch, arrive, resolve or reopen.';
COMMENT ON COLUMN incident_transitions.from_status IS 'Status before (null on create).';
COMMENT ON COLUMN incident_transitions.to_status IS 'Status after.';
COMMENT ON COLUMN incident_transitions.unit_id IS 'The unit dispatched, for dispatch.';
COMMENT ON COLUMN incident_transitions.note IS 'The note given (resolve), or the event joined (group).';

CREATE TABLE dispatches (
    id bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id),
    unit_id text NOT NULL REFERENCES units (unit_id),
    dispatched_at timestamptz NOT NULL,
    dispatched_by text NOT NULL,
    released_at timestamptz
);
-- The database, not the application, guarantees that a unit serves one incident at a time:
-- of two officers dispatching the same unit at the same moment exactly one succeeds.
CREATE UNIQUE INDEX dispatches_active_unit_key ON dispatches (unit_id) WHERE released_at IS NULL;
CREATE INDEX dispatches_incident_idx ON dispatches (incident_id);
COMMENT ON TABLE dispatches IS 'Units sent to incidents; a unit has at most one dispatch not yet released.';
COMMENT ON COLUMN dispatches.id IS 'Dispatch number.';
COMMENT ON COLUMN dispatches.incident_id IS 'The incident.';
COMMENT ON COLUMN dispatches.unit_id IS 'The unit sent.';
COMMENT ON COLUMN dispatches.dispatched_at IS 'When it was sent (UTC).';
COMMENT ON COLUMN dispatches.dispatched_by IS 'Who sent it.';
COMMENT ON COLUMN dispatches.released_at IS 'When the unit was released (UTC); null while busy with it.';
"""

# Reports over weeks and months read hours, not 5-minute rows (store.hourly keeps it). Each
# indicator_values row stands for the time until the next row of its unit and domain, at
# most the history cadence; the minutes per level are the sums of those durations.
_INDICATOR_HOURLY = """
CREATE TABLE indicator_hourly (
    hour timestamptz NOT NULL,
    scope_code text NOT NULL,
    level_name text NOT NULL,
    domain text NOT NULL,
    samples integer NOT NULL,
    scored integer NOT NULL,
    score_mean double precision,
    score_min double precision,
    score_max double precision,
    worst_level smallint CHECK (worst_level IN (0, 1, 2)),
    minutes_green double precision NOT NULL,
    minutes_amber double precision NOT NULL,
    minutes_red double precision NOT NULL,
    minutes_grey double precision NOT NULL,
    PRIMARY KEY (scope_code, domain, hour)
);
CREATE INDEX indicator_hourly_hour_idx ON indicator_hourly (hour);
COMMENT ON TABLE indicator_hourly IS 'Vital-sign history per unit, domain and closed hour, from indicator_values.';
COMMENT ON COLUMN indicator_hourly.hour IS 'Start of the hour (UTC).';
COMMENT ON COLUMN indicator_hourly.scope_code IS 'Unit code, or the city id.';
COMMENT ON COLUMN indicator_hourly.level_name IS 'The unit''s level, or city.';
COMMENT ON COLUMN indicator_hourly.domain IS 'Domain id, or index.';
COMMENT ON COLUMN indicator_hourly.samples IS 'indicator_values rows in the hour.';
COMMENT ON COLUMN indicator_hourly.scored IS 'Rows with a score (not grey): the weight of score_mean over hours.';
COMMENT ON COLUMN indicator_hourly.score_mean IS 'Mean of the rows'' scores 0-100; null when all grey.';
COMMENT ON COLUMN indicator_hourly.score_min IS 'Lowest score in the hour.';
COMMENT ON COLUMN indicator_hourly.score_max IS 'Highest score in the hour.';
COMMENT ON COLUMN indicator_hourly.worst_level IS 'Worst level in the hour: 0 green, 1 amber, 2 red; null all grey.';
COMMENT ON COLUMN indicator_hourly.minutes_green IS 'Minutes green: a row lasts until the next, at most the cadence.';
COMMENT ON COLUMN indicator_hourly.minutes_amber IS 'Minutes amber, counted as minutes_green.';
COMMENT ON COLUMN indicator_hourly.minutes_red IS 'Minutes red, counted as minutes_green.';
COMMENT ON COLUMN indicator_hourly.minutes_grey IS 'Minutes grey (no fresh data), counted as minutes_green.';
"""

# A sensor the ingest registers by itself (the city allows self-registration) is unverified until
# an admin accepts it: its readings are stored but the vital signs leave it out, so a device
# nobody vouched for cannot colour the city. Ingest-registered sensors from before this
# migration were never vouched for either. Rejects stored before personal data was masked at
# ingest keep reporters' phones: their values are masked here (wholly: "****").
_SENSOR_VERIFICATION = r"""
ALTER TABLE sensors ADD COLUMN verified boolean NOT NULL DEFAULT true;
UPDATE sensors SET verified = false WHERE registered_by = 'ingest';
CREATE INDEX sensors_unverified_idx ON sensors (sensor_id) WHERE NOT verified;
COMMENT ON COLUMN sensors.verified IS 'False for a sensor the ingest registered by itself, until an admin '
    'accepts it (cityops sensor accept); the vital signs leave unverified sensors out.';

UPDATE rejects
SET payload = regexp_replace(payload, '("[^"]*(phone|mobile)[^"]*"\s*:\s*)("([^"\\]|\\.)*"?|[-+0-9][-+0-9 ().]*)',
                             '\1"****"', 'gi')
WHERE payload ~* '(phone|mobile)[^"]*"\s*:';
UPDATE rejects SET reason = 'bad phone' WHERE reason LIKE 'bad phone:%';
"""

# Sessions live on the server: the cookie carries only a random id (its SHA-256 is stored), so
# signing out, a disable or a new password ends a session even where a copy of the cookie lives
# on, and an idle or old session can be refused. Sign-in attempts say how they ended, so that an
# attempt refused while throttled does not prolong the delay and an admin's unlock is recorded.
_SESSIONS_AND_SIGN_IN_OUTCOMES = """
CREATE TABLE web_sessions (
    id_hash text PRIMARY KEY,
    user_name text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    end_reason text,
    address text
);
CREATE INDEX web_sessions_open_user_idx ON web_sessions (user_name) WHERE ended_at IS NULL;
COMMENT ON TABLE web_sessions IS 'Signed-in browser sessions of the web app; the cookie names one by a random id.';
COMMENT ON COLUMN web_sessions.id_hash IS 'SHA-256 (hex) of the session id in the cookie; never the id itself.';
COMMENT ON COLUMN web_sessions.user_name IS 'Whose session it is.';
COMMENT ON COLUMN web_sessions.created_at IS 'When the user signed in (UTC).';
COMMENT ON COLUMN web_sessions.last_seen_at IS 'The newest request of the session (UTC, to the minute).';
COMMENT ON COLUMN web_sessions.ended_at IS 'When it ended (UTC); null while it is open.';
COMMENT ON COLUMN web_sessions.end_reason IS 'sign-out, idle, expired, disabled, password, role or replaced.';
COMMENT ON COLUMN web_sessions.address IS 'Client IP address at sign-in.';

ALTER TABLE login_attempts ADD COLUMN outcome text NOT NULL DEFAULT 'failure'
    CHECK (outcome IN ('success', 'failure', 'throttled', 'unlocked'));
UPDATE login_attempts SET outcome = 'success' WHERE success;
CREATE INDEX login_attempts_name_address_time_idx ON login_attempts (name, address, time);
COMMENT ON COLUMN login_attempts.outcome IS 'success; failure (wrong name or password, disabled);'
    ' throttled (refused unchecked while a delay runs: not counted);'
    ' unlocked (an admin cleared the delay; an empty name: of the whole address).';
"""

# A wall screen is not a person: an admin issues it a display link (viewer rights, no keyboard),
# which the browser keeps as a cookie of its own and which works until it is revoked — across
# restarts, and across a change of the session key when the admin chose so.
_DISPLAY_LINKS = """
CREATE TABLE display_links (
    id serial PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash text NOT NULL UNIQUE,
    path text NOT NULL CHECK (path LIKE '/%' AND length(path) <= 500),
    survives_key_change boolean NOT NULL,
    key_fingerprint text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_by text,
    last_used_at timestamptz,
    last_address text
);
COMMENT ON TABLE display_links IS 'Links that sign a wall screen in with viewer rights, no keyboard (/displays).';
COMMENT ON COLUMN display_links.id IS 'Number of the link; its display acts as display-<id>.';
COMMENT ON COLUMN display_links.name IS 'Which screen it is for, as the admin named it (e.g. Wall A, main hall).';
COMMENT ON COLUMN display_links.token_hash IS 'SHA-256 (hex) of the secret in the link; never the secret itself.';
COMMENT ON COLUMN display_links.path IS 'The page the screen opens, with its query (e.g. /?kiosk=1&domains=index,air).';
COMMENT ON COLUMN display_links.survives_key_change IS 'False: the link stops working when CITYOPS_SECRET_KEY changes.';
COMMENT ON COLUMN display_links.key_fingerprint IS 'A short digest of the session key the link was issued under.';
COMMENT ON COLUMN display_links.created_by IS 'The admin who issued it.';
COMMENT ON COLUMN display_links.created_at IS 'When it was issued (UTC).';
COMMENT ON COLUMN display_links.revoked_at IS 'When it was revoked (UTC); null while it works.';
COMMENT ON COLUMN display_links.revoked_by IS 'The admin who revoked it.';
COMMENT ON COLUMN display_links.last_used_at IS 'The newest request of a screen using it (UTC, to the minute).';
COMMENT ON COLUMN display_links.last_address IS 'Client IP address of that request.';
"""

# A sensor's alarm is titled in words in both languages (docs/vital-signs.md §4.10): the English
# title stays in ``title``, the Chinese one goes here, so each page shows its own language.
# Events from people have one title, in the words they used: their title_zh stays null.
_CHINESE_TITLES = """
ALTER TABLE events ADD COLUMN title_zh text;
ALTER TABLE incidents ADD COLUMN title_zh text;
COMMENT ON COLUMN events.title_zh IS 'The title in Chinese, where the source wrote one in both languages '
    '(sensor alarms); null otherwise: title is then the only one.';
COMMENT ON COLUMN incidents.title_zh IS 'Chinese title of its first event, if it had one.';
"""

# Reaching the people (docs/notifications.md): the configuration (`cityops notify load`, the
# rota from `cityops notify rota`), and the log the worker (`cityops notify run`) writes and
# resumes from: a notification per rule and cause, a delivery per recipient and channel, an
# attempt per try. What a rule has seen is kept in notification_sources, so a restart neither
# repeats nor skips a warning.
_NOTIFICATIONS = """
CREATE TABLE notify_channels (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    kind text NOT NULL CHECK (kind IN ('email', 'webhook', 'wecom', 'dingtalk', 'feishu', 'sms')),
    settings jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE notify_channels IS 'Ways out of cityops: an SMTP server, a webhook receiver, a group robot, an SMS '
    'gateway.';
COMMENT ON COLUMN notify_channels.id IS 'Channel name, as rules name it.';
COMMENT ON COLUMN notify_channels.kind IS 'email, webhook, wecom, dingtalk, feishu or sms.';
COMMENT ON COLUMN notify_channels.settings IS 'The server and its credentials (secrets included: keep the database '
    'private).';
COMMENT ON COLUMN notify_channels.updated_at IS 'When it was last loaded (UTC).';

CREATE TABLE notify_people (
    name text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    email text,
    phone text,
    language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'zh-CN')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE notify_people IS 'People who may be notified: the rota and rules name them.';
COMMENT ON COLUMN notify_people.name IS 'Their name in the rota and in rules (e.g. wang.li).';
COMMENT ON COLUMN notify_people.email IS 'E-mail address, for e-mail channels.';
COMMENT ON COLUMN notify_people.phone IS 'Phone number, for SMS channels: personal data.';
COMMENT ON COLUMN notify_people.language IS 'The language of their messages: en or zh-CN.';
COMMENT ON COLUMN notify_people.updated_at IS 'When it was last loaded (UTC).';

CREATE TABLE notify_rules (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name text NOT NULL,
    trigger_kind text NOT NULL
        CHECK (trigger_kind IN ('level', 'incident_created', 'incident_sla', 'process_down', 'feed_silent')),
    trigger jsonb NOT NULL,
    roles text[] NOT NULL,
    people text[] NOT NULL,
    channels text[] NOT NULL,
    escalation jsonb NOT NULL,
    quiet_start time,
    quiet_end time,
    rate_limit integer CHECK (rate_limit > 0),
    rate_window_min integer CHECK (rate_window_min > 0),
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE notify_rules IS 'When to notify whom, how: a trigger, recipients, channels, escalation, quiet hours, '
    'a rate limit.';
COMMENT ON COLUMN notify_rules.id IS 'Rule name, as the log names it.';
COMMENT ON COLUMN notify_rules.name IS 'What it is for, in words.';
COMMENT ON COLUMN notify_rules.trigger_kind IS 'level (a domain reaches a level), incident_created, incident_sla,'
    ' process_down or feed_silent.';
COMMENT ON COLUMN notify_rules.trigger IS 'The trigger''s settings: domain, level, unit or units; categories,'
    ' severities, within_min; processes, after_min; sensor_kinds.';
COMMENT ON COLUMN notify_rules.roles IS 'Duty roles notified first: whoever holds them then (duty_shifts).';
COMMENT ON COLUMN notify_rules.people IS 'People notified first by name (notify_people).';
COMMENT ON COLUMN notify_rules.channels IS 'The channels its messages go through (notify_channels).';
COMMENT ON COLUMN notify_rules.escalation IS 'Later steps while nobody acknowledges: [{"role": …, "after_min": …}, …].';
COMMENT ON COLUMN notify_rules.quiet_start IS 'Quiet hours start (city time): non-critical messages wait until '
    'quiet_end.';
COMMENT ON COLUMN notify_rules.quiet_end IS 'Quiet hours end (city time).';
COMMENT ON COLUMN notify_rules.rate_limit IS 'At most this many non-critical messages per person per rate_window_min; '
    'null: no limit.';
COMMENT ON COLUMN notify_rules.rate_window_min IS 'The rate limit''s window in minutes.';
COMMENT ON COLUMN notify_rules.enabled IS 'False: the rule raises nothing.';
COMMENT ON COLUMN notify_rules.updated_at IS 'When it was last loaded (UTC).';

CREATE TABLE duty_shifts (
    id bigserial PRIMARY KEY,
    role text NOT NULL,
    person text NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL CHECK (ends_at > starts_at)
);
CREATE INDEX duty_shifts_role_time_idx ON duty_shifts (role, starts_at, ends_at);
COMMENT ON TABLE duty_shifts IS 'The on-duty rota (值班表): who holds which duty role when.';
COMMENT ON COLUMN duty_shifts.id IS 'Shift number.';
COMMENT ON COLUMN duty_shifts.role IS 'Duty role (duty_officer, shift_leader, …).';
COMMENT ON COLUMN duty_shifts.person IS 'Who holds it (notify_people.name).';
COMMENT ON COLUMN duty_shifts.starts_at IS 'Start, included (UTC).';
COMMENT ON COLUMN duty_shifts.ends_at IS 'End, excluded (UTC).';

CREATE TABLE notify_checkpoints (
    name text PRIMARY KEY,
    at timestamptz NOT NULL
);
COMMENT ON TABLE notify_checkpoints IS 'How far the notification worker has read each source (level changes).';
COMMENT ON COLUMN notify_checkpoints.name IS 'The source.';
COMMENT ON COLUMN notify_checkpoints.at IS 'The newest time read (UTC).';

CREATE TABLE notifications (
    id bigserial PRIMARY KEY,
    rule_id text NOT NULL,
    cause text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('minor', 'major', 'critical')),
    notice jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    acknowledged_address text,
    steps_sent integer[] NOT NULL DEFAULT '{}'
);
CREATE INDEX notifications_open_idx ON notifications (created_at) WHERE acknowledged_at IS NULL;
COMMENT ON TABLE notifications IS 'The notification log: one row per rule and cause raised, however many alarms it '
    'stands for.';
COMMENT ON COLUMN notifications.id IS 'Notification number.';
COMMENT ON COLUMN notifications.rule_id IS 'The rule that raised it.';
COMMENT ON COLUMN notifications.cause IS 'What it is about (vitals:<unit or level>:<domain>, incident:<category>, '
    'sla:<category>).';
COMMENT ON COLUMN notifications.severity IS 'minor, major or critical (a red level is critical, amber major).';
COMMENT ON COLUMN notifications.notice IS 'What it says, in both languages, and how many alarms it stands for.';
COMMENT ON COLUMN notifications.created_at IS 'When it was raised (UTC): escalation counts from here.';
COMMENT ON COLUMN notifications.acknowledged_at IS 'When someone acknowledged it (UTC): escalation stops.';
COMMENT ON COLUMN notifications.acknowledged_by IS 'Who: the person whose link was used (or channel:<id> for a group '
    'robot).';
COMMENT ON COLUMN notifications.acknowledged_address IS 'Client IP address of the acknowledgement.';
COMMENT ON COLUMN notifications.steps_sent IS 'Escalation steps sent (0 is the first message).';

CREATE TABLE notification_sources (
    rule_id text NOT NULL,
    source text NOT NULL,
    notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, source)
);
COMMENT ON TABLE notification_sources IS 'What each rule has raised a notification for, so nothing is raised twice.';
COMMENT ON COLUMN notification_sources.rule_id IS 'The rule.';
COMMENT ON COLUMN notification_sources.source IS 'A level change (level:<unit>:<domain>:<time>) or an incident '
    '(incident:<id>, sla:<id>).';
COMMENT ON COLUMN notification_sources.notification_id IS 'The notification that told of it.';

CREATE TABLE notification_deliveries (
    id bigserial PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    step integer NOT NULL,
    person text,
    channel_id text NOT NULL,
    language text NOT NULL CHECK (language IN ('en', 'zh-CN')),
    token_hash text UNIQUE,
    token_expires_at timestamptz NOT NULL,
    token_used_at timestamptz,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'gave_up')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at timestamptz,
    last_status text,
    last_answer text,
    created_at timestamptz NOT NULL
);
CREATE INDEX notification_deliveries_due_idx ON notification_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX notification_deliveries_notification_idx ON notification_deliveries (notification_id);
CREATE INDEX notification_deliveries_person_idx ON notification_deliveries (person, sent_at);
COMMENT ON TABLE notification_deliveries IS 'Every message of a notification: to whom, by which channel, how it went.';
COMMENT ON COLUMN notification_deliveries.id IS 'Delivery number (in its acknowledgement link).';
COMMENT ON COLUMN notification_deliveries.notification_id IS 'The notification.';
COMMENT ON COLUMN notification_deliveries.step IS 'The escalation step it belongs to (0: the first message).';
COMMENT ON COLUMN notification_deliveries.person IS 'The recipient; null for a group robot (one message to the group).';
COMMENT ON COLUMN notification_deliveries.channel_id IS 'The channel.';
COMMENT ON COLUMN notification_deliveries.language IS 'The language it was written in.';
COMMENT ON COLUMN notification_deliveries.token_hash IS 'SHA-256 (hex) of its one-use acknowledgement link''s token; '
    'never the token.';
COMMENT ON COLUMN notification_deliveries.token_expires_at IS 'When the link stops working (UTC).';
COMMENT ON COLUMN notification_deliveries.token_used_at IS 'When the link was used (UTC); a used link does nothing '
    'again.';
COMMENT ON COLUMN notification_deliveries.status IS 'pending (not tried or held by quiet hours), sent, failed (retried '
    'later), gave_up.';
COMMENT ON COLUMN notification_deliveries.attempts IS 'How many times it was tried.';
COMMENT ON COLUMN notification_deliveries.next_attempt_at IS 'When it is tried next (UTC): backoff, quiet hours.';
COMMENT ON COLUMN notification_deliveries.sent_at IS 'When the server accepted it (UTC).';
COMMENT ON COLUMN notification_deliveries.last_status IS 'The last answer''s status: 250, 200, 503, timeout, refused, '
    'rate-limited, acknowledged…';
COMMENT ON COLUMN notification_deliveries.last_answer IS 'The server''s last answer (first 500 characters).';
COMMENT ON COLUMN notification_deliveries.created_at IS 'When it was planned (UTC).';

CREATE TABLE notification_attempts (
    delivery_id bigint NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    ok boolean NOT NULL,
    status text NOT NULL,
    answer text NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
COMMENT ON TABLE notification_attempts IS 'Every try of every delivery, with the server''s answer.';
COMMENT ON COLUMN notification_attempts.delivery_id IS 'The delivery.';
COMMENT ON COLUMN notification_attempts.attempt IS 'Try number, from 1.';
COMMENT ON COLUMN notification_attempts.at IS 'When (UTC).';
COMMENT ON COLUMN notification_attempts.ok IS 'Whether the server accepted it.';
COMMENT ON COLUMN notification_attempts.status IS 'The status (250, 200, 503, timeout, refused…).';
COMMENT ON COLUMN notification_attempts.answer IS 'The server''s answer (first 500 characters).';
"""


# The /alerts page edits rules one at a time (updated_at is the version a form read: a save
# of an older version is refused), a rule may name departments (sets of people) and cityops
# accounts, a person may be an account, and a rule may watch the trend forecasts.
_NOTIFICATION_RULES_EDITED = """
ALTER TABLE notify_rules DROP CONSTRAINT notify_rules_trigger_kind_check;
ALTER TABLE notify_rules ADD CONSTRAINT notify_rules_trigger_kind_check
    CHECK (trigger_kind IN ('level', 'forecast', 'incident_created', 'incident_sla', 'process_down', 'feed_silent'));
COMMENT ON COLUMN notify_rules.trigger_kind IS 'level (a domain reaches a level), forecast (the trend forecast says it'
    ' will within minutes), incident_created, incident_sla, process_down or feed_silent.';
ALTER TABLE notify_rules ADD COLUMN departments text[] NOT NULL DEFAULT '{}';
ALTER TABLE notify_rules ADD COLUMN users text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN notify_rules.departments IS 'Departments notified first: their people (notify_departments).';
COMMENT ON COLUMN notify_rules.users IS 'cityops accounts notified first, through the person who is that account.';
COMMENT ON COLUMN notify_rules.updated_at IS 'When it was last saved (UTC): the version an edit must start from.';
ALTER TABLE notify_people ADD COLUMN app_user text;
COMMENT ON COLUMN notify_people.app_user IS 'The cityops account this person is (users.name), if any.';

CREATE TABLE notify_departments (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name text NOT NULL,
    name_zh text,
    people text[] NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE notify_departments IS 'Departments: named sets of people a rule may notify.';
COMMENT ON COLUMN notify_departments.id IS 'Department name, as rules name it.';
COMMENT ON COLUMN notify_departments.name IS 'Its name in English.';
COMMENT ON COLUMN notify_departments.name_zh IS 'Its name in Chinese, if given.';
COMMENT ON COLUMN notify_departments.people IS 'Its people (notify_people.name).';
COMMENT ON COLUMN notify_departments.updated_at IS 'When it was last loaded (UTC).';
"""


# Where TimescaleDB's job scheduler fails (docs/operations.md), `cityops db run-jobs` runs the jobs and
# keeps here what TimescaleDB's own statistics would have said (CALL run_job leaves them as they were).
# On plain PostgreSQL, which has no jobs, it stays empty.
_TIMESCALE_JOB_RUNS = """
CREATE TABLE timescale_job_runs (
    job_id integer PRIMARY KEY,
    started_at timestamptz NOT NULL,
    succeeded_at timestamptz,
    error text
);
COMMENT ON TABLE timescale_job_runs IS 'TimescaleDB jobs run by cityops db run-jobs: the newest run of each.';
COMMENT ON COLUMN timescale_job_runs.job_id IS 'The job (timescaledb_information.jobs.job_id).';
COMMENT ON COLUMN timescale_job_runs.started_at IS 'When its newest run started (UTC).';
COMMENT ON COLUMN timescale_job_runs.succeeded_at IS 'When its newest successful run started (UTC); null if none.';
COMMENT ON COLUMN timescale_job_runs.error IS 'Its newest finished run''s error; null if that succeeded or none has.';
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "core", sql=_CORE),
    Migration(2, "readings", sql=_READINGS, plain=_READINGS_PLAIN, timescale=_READINGS_TIMESCALE),
    Migration(
        3,
        "unit_positions",
        sql=_UNIT_POSITIONS,
        plain="CREATE INDEX unit_positions_time_brin ON unit_positions USING brin (time);",
        timescale="SELECT create_hypertable('unit_positions', 'time', chunk_time_interval => INTERVAL '7 days');",
    ),
    Migration(4, "rollup_queue", plain=_ROLLUP_QUEUE_PLAIN),
    Migration(5, "accounts", sql=_ACCOUNTS),
    Migration(6, "request_latency", sql=_REQUEST_LATENCY),
    Migration(
        7,
        "indicators",
        sql=_INDICATORS,
        plain="CREATE INDEX indicator_values_time_brin ON indicator_values USING brin (time);\n"
              "CREATE INDEX indicator_values_scope_idx ON indicator_values (scope_code, domain, time);",
        timescale="SELECT create_hypertable('indicator_values', 'time', chunk_time_interval => INTERVAL '7 days');\n"
                  "CREATE INDEX indicator_values_scope_idx ON indicator_values (scope_code, domain, time);",
    ),
    # The indicators process reads windows of a few metrics (the rain sums, the PM means…) from
    # the rollups every run: without these, each read scans the whole rollup, and a run gets
    # slower as history grows. (TimescaleDB's continuous aggregates index their buckets.)
    Migration(
        8,
        "rollup_metric_indexes",
        plain="CREATE INDEX readings_1m_metric_bucket_idx ON readings_1m (metric, bucket);\n"
              "CREATE INDEX readings_1h_metric_bucket_idx ON readings_1h (metric, bucket);",
    ),
    Migration(9, "incidents", sql=_INCIDENTS),
    # Plain tables on both paths: rows are written once per closed hour by the indicators
    # process (store.hourly), which a continuous aggregate cannot do (it needs window functions).
    Migration(10, "indicator_hourly", sql=_INDICATOR_HOURLY),
    # The command view's ticker asks for the newest amber/red changes every few seconds: about
    # one history row in a hundred. Without this it reads a whole day of rows to find them.
    Migration(
        11,
        "indicator_changes_index",
        sql="CREATE INDEX indicator_values_changes_idx ON indicator_values (time) WHERE level_changed AND level >= 1;",
    ),
    Migration(12, "unverified_sensors_and_masked_rejects", sql=_SENSOR_VERIFICATION),
    Migration(13, "sessions_and_sign_in_outcomes", sql=_SESSIONS_AND_SIGN_IN_OUTCOMES),
    Migration(14, "display_links", sql=_DISPLAY_LINKS),
    Migration(15, "chinese_titles", sql=_CHINESE_TITLES),
    Migration(16, "notifications", sql=_NOTIFICATIONS),
    Migration(17, "notification_rules_edited", sql=_NOTIFICATION_RULES_EDITED),
    # The notification log page reads the newest notifications (of a period), /feeds and /healthz
    # every channel's newest tries: without these both read the whole history.
    Migration(
        18,
        "notification_log_indexes",
        sql="CREATE INDEX notifications_created_idx ON notifications (created_at);\n"
            "CREATE INDEX notification_attempts_at_idx ON notification_attempts (at);",
    ),
    # Before store.hourly.rollups_held, the indicators process rolled up the hours a running
    # backfill (the demo's first day) had half written, and never read them again: reports of that
    # day averaged part of each hour. Emptied, every hour is rolled up again from the history
    # (a day per indicators run); reports read the raw rows until then.
    Migration(19, "hourly_rollup_redone", sql="TRUNCATE indicator_hourly;"),
    Migration(20, "timescale_job_runs", sql=_TIMESCALE_JOB_RUNS),
)
