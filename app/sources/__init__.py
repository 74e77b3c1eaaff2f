"""Sources: the registry of sensors and stations, and whether each one is online, stale or offline."""
