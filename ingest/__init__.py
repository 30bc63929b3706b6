"""MQTT ingest: receive, parse and validate, batch into the database; and the simulator."""
