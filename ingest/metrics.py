"""Prometheus text metrics. Report counters live in Redis (shared by every API process and
bumped inside the gate script); latencies are per process."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.total += seconds
        self.n += 1


@dataclass
class Latencies:
    by_route: dict[str, Histogram] = field(default_factory=lambda: defaultdict(Histogram))
    started: float = field(default_factory=time.time)

    def render(self, name: str) -> list[str]:
        lines = [f"# TYPE {name} histogram"]
        for route, hist in sorted(self.by_route.items()):
            cumulative = 0
            for bound, count in zip((*_BUCKETS, float("inf")), hist.counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'{name}_bucket{{route="{route}",le="{le}"}} {cumulative}')
            lines.append(f'{name}_sum{{route="{route}"}} {hist.total:.6f}')
            lines.append(f'{name}_count{{route="{route}"}} {hist.n}')
        return lines


def label_value(text: str) -> str:
    """`text` escaped for a label value of the text format (backslash, quote, newline)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_counters(name: str, help_text: str, values: dict[str, int], label: str) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
    lines += [f'{name}{{{label}="{key}"}} {value}' for key, value in sorted(values.items())]
    return lines


def render_gauge(name: str, help_text: str, value: float) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
