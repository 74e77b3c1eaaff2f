"""Readings: the latest value of every series, and a metric's time series bucketed from the rollups."""
