"""The MQTT ingestor: topic -> parse -> batch -> commit -> ack -> notice."""
