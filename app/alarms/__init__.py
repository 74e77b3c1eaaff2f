"""Alarms: rules (pure semantics), the rule book and shelves, evaluation of readings and of the clock,
the lifecycle in the database, operator commands, webhooks, and one router per resource."""
