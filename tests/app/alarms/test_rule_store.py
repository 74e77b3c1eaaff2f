"""Rules in the database: the profile seeds and follows its own rules, never an admin's."""

from __future__ import annotations

import orjson
from sqlalchemy import Engine, text

from app.alarms.rule_store import sync_rules
from app.storage.engine import writing
from app.storage.migrate import upgrade
from tests.app.alarms.evaluation import PROFILE, q


def test_the_profile_updates_its_own_rules_but_never_an_admins(engine: Engine) -> None:
    upgrade(engine)
    with writing(engine) as conn:
        sync_rules(conn=conn, profile=PROFILE)
        conn.execute(
            text(
                "UPDATE alarm_rules SET updated_by = 'admin-1', version = 2, params = '{}' WHERE rule_id = 'threshold.tide_cm'"
            )
        )
    edited = PROFILE.model_copy(
        update={
            "alarm_rules": [
                dict(r, count=9) if r["rule_id"] == "tickets.critical_cluster" else r for r in PROFILE.alarm_rules
            ]
        }
    )
    with writing(engine) as conn:
        sync_rules(conn=conn, profile=edited)
    rows = dict(
        q(
            engine,
            "SELECT rule_id, params FROM alarm_rules WHERE rule_id IN ('threshold.tide_cm', 'tickets.critical_cluster')",
        )
    )
    assert orjson.loads(rows["tickets.critical_cluster"])["count"] == 9  # the profile's own rule follows the file
    assert rows["threshold.tide_cm"] == "{}"  # the admin's edit stands
