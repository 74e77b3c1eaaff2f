"""Open311 GeoReport v2, served at /open311/v2/: citizens' apps in (POST through MQTT) and out (GET)."""
