"""Incidents with standard operating procedures (issue 13): open, work, hand over, close, report."""
