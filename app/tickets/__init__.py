"""Service tickets: lifecycle rules and queries."""
