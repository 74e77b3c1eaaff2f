"""The episode clock's compression (TIME_SCALE) and the time units every part counts in."""

TIME_SCALE = 60.0  # simulated seconds per real second for episodes and tickets
HOUR = 3600.0
DAY = 86_400.0
