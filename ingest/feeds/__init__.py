"""`satupintu feeds`: BMKG earthquakes, BMKG nowcast warnings and other CAP 1.2 feeds, polled and published on MQTT.

The feeds process converts nothing it does not have to: CAP documents go out
as they came; BMKG's earthquake JSON becomes CAP 1.2 (ingest.feeds.bmkg).
Each document is published on `city/{city}/alert/{publisher}` (QoS 1) and
the ingestor stores it through the one ingest path, once per CAP sender and
identifier. Each feed is a source (`feed-...`) whose `status` topic says
whether its last poll worked, so the window shows when BMKG cannot be reached.
"""
