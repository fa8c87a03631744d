"""Static census of stand-ins: which resource types of the corpus templates the sandbox would not build.

For every corpus template (after CloudFormation's SAM transform, local CodeUri/DefinitionUri replaced by an
S3 location as `package` would), counts the resources whose type neither moto nor the sandbox's glue models
build, conditional ones included. Complements bench_corpus.py, which counts the stand-ins of the resources
a deployment actually reached. Usage: python bench/corpus_standins.py (needs $CFN_AUTOFIX_CORPUS or the files
next to the manifest).
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "corpora"))
import corpus_files  # noqa: E402

from orchestrator.sandbox import models, transforms  # noqa: E402
from orchestrator.template import load_template  # noqa: E402

_ARTIFACT_KEYS = ("CodeUri", "DefinitionUri", "ContentUri")


def _packaged(document: dict) -> dict:
    for resource in (document.get("Resources") or {}).values():
        props = resource.get("Properties") if isinstance(resource, dict) else None
        if not isinstance(props, dict):
            continue
        for key in _ARTIFACT_KEYS:
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = "s3://bucket/key"
        if resource.get("Type") == "AWS::Serverless::Function" and not {"CodeUri", "InlineCode"} & set(props):
            props["CodeUri"] = "s3://bucket/key"
    return document


def main() -> None:
    manifest = json.loads(corpus_files.MANIFEST_PATH.read_text())
    kinds: collections.Counter[str] = collections.Counter()
    where: dict[str, set[str]] = collections.defaultdict(set)
    for entry, path in corpus_files.available(manifest["templates"]):
        try:
            document = _packaged(dict(load_template(Path(path)).document))
        except Exception as exc:  # noqa: BLE001 - a template the tool refuses is reported, not counted
            print(f"skipped {entry['id']}: {exc}", file=sys.stderr)
            continue
        try:
            document = transforms.expand(document, entry.get("parameters") or {}, "us-east-1")
        except Exception as exc:  # noqa: BLE001 - an untransformable SAM template is counted as written
            print(f"untransformed {entry['id']}: {exc}", file=sys.stderr)
        for resource in (document.get("Resources") or {}).values():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            if isinstance(kind, str) and kind != "AWS::CloudFormation::Stack" and not models.is_modelled(kind):
                kinds[kind] += 1
                where[kind].add(entry["id"])
    print(f"{sum(kinds.values())} stand-in resources of {len(kinds)} types")
    for kind, count in kinds.most_common():
        print(f"{count:4} {len(where[kind]):3}  {kind}")


if __name__ == "__main__":
    main()
