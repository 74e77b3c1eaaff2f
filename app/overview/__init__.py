"""Overview: the city's vital signs on one screen (sources by health, tickets, ingest pulse)."""
