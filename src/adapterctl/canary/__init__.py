"""Canary analysis: a canary revision judged against the stable revision of the same alias
from the gateway's per-revision metrics (Prometheus' HTTP API, or a direct scrape of the
gateways), with stated statistics and Argo Rollouts' verdicts (docs/canary.md)."""
