"""The pages of the single window: operator (/), regent (/regent), replay (/replay)."""
