"""Quarantine: messages the ingestor could not store as given, kept with the reason for people to inspect."""
