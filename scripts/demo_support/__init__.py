"""Helpers of ``scripts/demo.py`` (``make demo``): the transcript, commands, nodes, steps."""
