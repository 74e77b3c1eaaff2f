"""The city as it was at a past instant, from stored data: for the window's history replay."""
