"""Regenerate orchestrator/data/managed_policies.json from moto's AWS managed-policy catalog (run after a moto upgrade)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "orchestrator" / "data" / "managed_policies.json"


def render(catalog: dict) -> str:
    """One policy per line, keys sorted: compact to load, readable in a diff."""
    lines = [f"{json.dumps(name)}:{json.dumps(catalog[name], separators=(',', ':'), sort_keys=True)}"
             for name in sorted(catalog)]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def moto_catalog() -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def main() -> int:
    TARGET.write_text(render(moto_catalog()), encoding="utf-8")
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
