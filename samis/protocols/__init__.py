"""The metric protocols a user can name, and the one function that turns names into protocols.

Adding a protocol is one module (``samis/protocols/<name>.py`` defining a :class:`Protocol`) plus one
entry in ``PROTOCOLS`` below; the evaluator, the definition loader, the report and the CLI read
everything else (columns, directions, reducers, curves, number style) from it. This package
imports numpy only, so the CLI and the definition loader can read the vocabulary without loading
the metrics.
"""

from __future__ import annotations

from samis.errors import ConfigError
from samis.protocols import anomaly, seg, sod, steel
from samis.protocols.base import HIGHER, LOWER, Accumulated, Protocol

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (sod.PROTOCOL, steel.PROTOCOL, anomaly.PROTOCOL, seg.PROTOCOL)}
# names that stand for several protocols (``--protocol both``: the two conventions of the steel study)
PROTOCOL_SETS: dict[str, tuple[str, ...]] = {"both": ("sod", "steel")}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; choose {_choices()}")
    return PROTOCOLS[name]


def _choices() -> str:
    names = [*PROTOCOLS, *PROTOCOL_SETS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def parse_protocols(protocol) -> tuple[str, ...]:
    """A protocol name, a set name (``both``) or a list of them -> an ordered tuple of protocol names."""
    items = [protocol] if isinstance(protocol, str) else list(protocol or [])
    names: list[str] = []
    for item in items:
        for name in PROTOCOL_SETS.get(item, (item,)):
            get_protocol(name)
            if name not in names:
                names.append(name)
    if not names:
        raise ConfigError(f"no protocol given; choose {_choices()}")
    return tuple(names)


def metric_names() -> tuple[str, ...]:
    """Every protocol's columns, each once: the metrics a report ranks."""
    return tuple(dict.fromkeys(c for p in PROTOCOLS.values() for c in p.columns))


def direction(metric: str) -> str | None:
    """HIGHER or LOWER for a protocol column (the same in every protocol that has it); None otherwise."""
    found = {p.directions[metric] for p in PROTOCOLS.values() if metric in p.directions}
    if len(found) > 1:
        raise ValueError(f"metric {metric!r} improves in opposite directions in two protocols")
    return found.pop() if found else None


__all__ = ["HIGHER", "LOWER", "PROTOCOLS", "PROTOCOL_SETS", "Accumulated", "Protocol", "direction", "get_protocol",
           "metric_names", "parse_protocols"]
