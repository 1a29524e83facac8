"""The client lanes: live calls through real clients, collected only when asked.

``conformance run --clients node`` (or ``CONFORMANCE_CLIENTS=node`` with plain pytest) collects
``test_node_clients.py``; a lane that is not asked for is not collected at all, so a normal run
has no client cases (not even skipped ones).
"""

from pathlib import Path

from conformance.clients import asked_lanes

collect_ignore = [p.name for p in Path(__file__).parent.glob("test_*_clients.py") if p.name.split("_")[1] not in asked_lanes()]
