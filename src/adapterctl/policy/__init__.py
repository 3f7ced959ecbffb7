"""Separation of duties: who trained, authored, signed, approved and activated a change, read
from a pull request, its reviews and the registry (``adapterctl policy check``)."""
