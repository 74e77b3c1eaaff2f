"""What the city accepts, readable by integrators: the catalogue document and the payloads' JSON Schemas."""
