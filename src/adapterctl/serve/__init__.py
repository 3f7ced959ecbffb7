"""The reference serving node: a small OpenAI-compatible server that behaves like vLLM
where adapterctl touches it. Imported only by ``adapterctl serve``."""
