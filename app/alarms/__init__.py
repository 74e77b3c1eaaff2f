"""Alarms: rules (pure semantics), the engine that evaluates them, their lifecycle, webhooks and routes."""
