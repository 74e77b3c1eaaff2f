"""Reports for meetings and other tools: CSV exports and the printable service performance page."""
