"""The province view (Smart Province, issue 15): every city of the deployment the caller may see, at a glance."""
