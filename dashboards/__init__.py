"""The single-window Dash dashboard (built in its own issue)."""
