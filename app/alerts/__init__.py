"""Regional warnings: CAP 1.2 alerts in (stored with their relevance to the regency), warning alarms, CAP out."""
