"""The reference serving node: a small OpenAI-compatible server that behaves like vLLM where adapterctl touches it (imported only by `adapterctl serve`)."""
