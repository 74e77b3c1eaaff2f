"""SatuPintu core: settings, city profile, storage and the API."""
