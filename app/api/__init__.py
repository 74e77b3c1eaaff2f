"""The HTTP API: FastAPI app factory, shared dependencies, health and metrics."""
