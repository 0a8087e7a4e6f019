"""Downloads of a scenario's trajectories: CSV (one row per dynamics and step) and the
CLI's JSON (`python -m core simulate QUERY` prints the same document)."""

from __future__ import annotations

import io
import json

from core.compute import PathSummary
from core.dynamics import DYNAMICS
from core.report import simulate_json
from core.scenario import Scenario


def csv_text(summary: PathSummary) -> str:
    out = io.StringIO()
    out.write("dynamics,n,x,y,loss\n")
    for k in DYNAMICS:
        for n, ((x, y), value) in enumerate(zip(summary.paths[k], summary.losses[k], strict=True)):
            out.write(f"{k},{n},{float(x)!r},{float(y)!r},{float(value)!r}\n")
    return out.getvalue()


def json_text(s: Scenario) -> str:
    return json.dumps(simulate_json(s), indent=1)
