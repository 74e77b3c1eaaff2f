"""Cities: the regencies and cities one deployment serves (Smart Province, issue 15)."""
