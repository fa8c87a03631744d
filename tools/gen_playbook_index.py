"""Regenerate playbooks/index.json, the parsed data of every packaged playbook (run after editing a playbook)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "playbooks"
sys.path.insert(0, str(ROOT))

from orchestrator.catalog.playbooks import INDEX_NAME  # noqa: E402
from orchestrator.template import read_data_yaml  # noqa: E402


def entries(folder: Path = FOLDER) -> dict[str, dict]:
    """file name -> {"sha256" of its text, "data" as the YAML parser reads it}; refuses data JSON would change."""
    found = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        data = read_data_yaml(path)
        if json.loads(json.dumps(data)) != data:
            raise SystemExit(f"{path}: its data does not survive JSON (a date, a non-string key?); it cannot be indexed")
        found[path.name] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "data": data}
    return found


def render(found: dict[str, dict]) -> str:
    """One playbook per line, its keys in the order of its YAML (params keep their order): compact, readable in a diff."""
    lines = [f"{json.dumps(name)}:{json.dumps(entry, ensure_ascii=False)}" for name, entry in found.items()]
    return '{"playbooks":{\n' + ",\n".join(lines) + "\n}}\n"


def main() -> int:
    target = FOLDER / INDEX_NAME
    target.write_text(render(entries()), encoding="utf-8")
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
