"""The frame around every page: header, connection banner, session and live-channel stores."""
