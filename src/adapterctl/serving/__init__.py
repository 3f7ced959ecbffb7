"""Serving: the desired state of an environment at a commit, nodes, sync and render targets."""
