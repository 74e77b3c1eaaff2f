"""Public-service performance per agency and service: open, overdue, resolved, SLA %, resolution times."""
