"""Signatures: model-signing bundles over artifacts, and git commit signatures."""
