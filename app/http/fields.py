"""Field types shared by request bodies."""

from __future__ import annotations

# Free text people type (names, labels): no control characters. PostgreSQL
# cannot store NUL in text, and a tab or newline in a label is a mistake.
# At least one visible character (the regex engine has no lookahead, hence the long form).
LABEL_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
