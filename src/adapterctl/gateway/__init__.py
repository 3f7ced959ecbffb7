"""The traffic gateway (``adapterctl gateway``): serves an environment's aliases by their
weights and tenants, only from revisions the nodes have loaded, and measures each revision.
Imported only by ``adapterctl gateway`` (it needs the ``gateway`` extra: uvicorn, aiohttp)."""
