"""The composition root: the CLI and the launchers that know app, ingest and dashboards together."""
