"""Reading model files without loading weights.

Safetensors headers, PEFT configs, tokenizers and chat templates, base model directories.
"""
