"""Live push: change notices from the ingestor, fanned out to every open dashboard."""
