"""Gates: each takes what it checks and returns findings; none knows about reporters."""
