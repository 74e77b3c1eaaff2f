"""The duty rota: who is on duty when, per agency and escalation level (`duty_rota:` in the city profile).

Alarm escalation and late incident steps both ask `on_duty(rota, at, agency=..., level=...)`.
"""

from app.rota.rota import Contact, DutyRota, RotaError, Shift, on_duty, rota_of

__all__ = ["Contact", "DutyRota", "RotaError", "Shift", "on_duty", "rota_of"]
