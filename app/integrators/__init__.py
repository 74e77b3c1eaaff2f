"""Integrators as the command center sees them: who sends what (the broker's ACL) and how it is going."""
