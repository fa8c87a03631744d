"""Where the public-template corpus's files are: the manifest is committed, the templates are not.

The templates are third-party files fetched from public repositories; the workplace keeps fetched
content out of the developers' commits (such data belongs in the steering repo's shared/). So the
repository holds only `manifest.json` (source repo, path, commit, license, sha256, expectations) and
this locator; the files are looked up, in order, in `$CFN_AUTOFIX_CORPUS`, next to the manifest
(materialized locally and git-ignored), and `shared/corpora/templates` beside the clone.
`python tests/corpora/corpus_files.py --mirror-root DIR` materializes them next to the manifest from
git snapshots of the source repositories (DIR/<owner>+<name>/repo), checking every sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "templates"
MANIFEST_PATH = HERE / "manifest.json"


def manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text())


def candidate_roots() -> list[Path]:
    roots = []
    if os.environ.get("CFN_AUTOFIX_CORPUS"):
        roots.append(Path(os.environ["CFN_AUTOFIX_CORPUS"]))
    roots.append(HERE)
    repo = HERE.parents[2]
    roots.append(repo.parent / "shared" / "corpora" / "templates")
    return roots


def template_path(entry: dict) -> Path | None:
    """The entry's file when a root holds it with the recorded sha256, else None."""
    for root in candidate_roots():
        path = root / entry["file"]
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]:
            return path
    return None


def available(entries: list[dict] | None = None) -> list[tuple[dict, Path]]:
    entries = manifest()["templates"] if entries is None else entries
    found = [(e, template_path(e)) for e in entries]
    return [(e, p) for e, p in found if p is not None]


def materialize(mirror_root: Path) -> int:
    """Write every entry's file next to the manifest from a git snapshot of its repository."""
    missing = 0
    for entry in manifest()["templates"]:
        git_dir = mirror_root / entry["repo"].replace("/", "+") / "repo"
        target = HERE / entry["file"]
        try:
            data = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{entry['commit']}:{entry['path']}"],
                                  check=True, capture_output=True).stdout
        except (subprocess.CalledProcessError, FileNotFoundError):
            print(f"missing: {entry['id']} ({entry['repo']} {entry['commit'][:10]}:{entry['path']})", file=sys.stderr)
            missing += 1
            continue
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            print(f"checksum differs: {entry['id']}", file=sys.stderr)
            missing += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return missing


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror-root", type=Path, required=True, help="folder of <owner>+<name>/repo git snapshots")
    args = parser.parse_args()
    sys.exit(1 if materialize(args.mirror_root) else 0)
