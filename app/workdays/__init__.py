"""Working days: the calendar Indonesian public services are judged by (app.workdays.calendar)."""
