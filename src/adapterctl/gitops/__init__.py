"""Reading an environment's routes from git history: ``history`` and ``diff``."""
