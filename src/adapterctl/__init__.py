"""adapterctl: a GitOps release train for LoRA adapters."""

__version__ = "0.1.0"
