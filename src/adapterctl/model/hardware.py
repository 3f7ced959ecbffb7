"""A hardware class: ``hardware/<class>.yaml``.

Absolute latency and throughput budgets are promises about a kind of node ("p95 under 2 s
on an L40S with this base"), not about whatever machine runs a check. A budget names the
class it holds for (``gates.latency.hardware_class`` of an adapter line, ``budgets.
hardware_class`` of a pressure profile); the node a check runs against declares its class
(``--hardware-class`` or ``ADAPTERCTL_HARDWARE_CLASS`` for ``eval`` and ``pressure``). A
budget is enforced on nodes of its class and reported as info elsewhere (docs/hardware.md).
"""

from __future__ import annotations

from adapterctl.model.common import Frozen, Name, Text


class HardwareClass(Frozen):
    """A kind of serving node that budgets can be promised for."""

    name: Name
    """The class's name (its file stem), e.g. gpu-l40s."""
    description: Text
    """What a node of this class is: accelerator, memory, engine, and how it is run."""
