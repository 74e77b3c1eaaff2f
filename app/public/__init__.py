"""The public page of service performance (`/publik`): what a regent shows the people (issue 14 part 4)."""
