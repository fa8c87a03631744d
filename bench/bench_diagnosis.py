"""Benchmark: diagnosis precision and recall per failure class over the corpus of real CloudFormation messages."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpora" / "failures"
CASCADE = "cascade"
UNKNOWN = "unknown"
NONE = "not-reported"  # diagnosis neither reported the event as a root cause nor dropped it
STACK_NAME = "bench-stack"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK_NAME}/00000000-0000-0000-0000-000000000000"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _first_import(attribute: str, modules: Iterable[str]) -> Any:
    """`attribute` from the first of `modules` that has it: modules are being moved into sub-packages."""
    tried = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            tried.append(f"{name} ({exc})")
            continue
        if hasattr(module, attribute):
            return getattr(module, attribute)
        tried.append(f"{name} (no {attribute})")
    raise SystemExit(f"bench_diagnosis: cannot import {attribute}; tried {', '.join(tried)}")


def load_engine() -> tuple[Callable, Callable, type]:
    diagnose_events = _first_import(
        "diagnose_events", ("orchestrator.deploy.diagnosis", "orchestrator.diagnosis")
    )
    load_playbooks = _first_import(
        "load_playbooks",
        ("orchestrator.catalog.playbooks", "orchestrator.deploy.playbooks", "orchestrator.playbooks.loader", "orchestrator.playbooks"),
    )
    stack_event = _first_import(
        "StackEvent", ("orchestrator.model", "orchestrator.deploy.model", "orchestrator.deploy.events", "orchestrator.events")
    )
    return diagnose_events, load_playbooks, stack_event


def playbook_class(book: Any) -> str:
    """The failure class a playbook declares (`class` once playbooks carry it), else derived from today's ids."""
    for attribute in ("failure_class", "class_", "klass", "cls"):
        value = getattr(book, attribute, None)
        if isinstance(value, str) and value:
            return value
    try:
        declared = book.to_json().get("class")
    except Exception:  # an older or foreign playbook object without to_json
        declared = None
    if isinstance(declared, str) and declared:
        return declared
    if book.id.startswith("missing-depends-on"):
        return "missing-depends-on"
    return book.id


def load_messages(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not JSON: {exc}") from None
    return rows


def synthetic_events(row: dict, stack_event: type) -> tuple[list, str]:
    """A minimal newest-first event list around one message; returns it and the logical id that carries it."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def event(n: int, logical: str, rtype: str, status: str, reason: str = "") -> Any:
        physical = STACK_ID if rtype == "AWS::CloudFormation::Stack" and logical == STACK_NAME else f"{logical.lower()}-phys"
        return stack_event(
            event_id=f"{logical}-{status}-{n}",
            stack_name=STACK_NAME,
            logical_id=logical,
            resource_type=rtype,
            status=status,
            reason=reason,
            physical_id=physical,
            timestamp=start + timedelta(seconds=n),
        )

    status = row["resource_status"]
    operation = "UPDATE_IN_PROGRESS" if status.startswith("UPDATE") else "CREATE_IN_PROGRESS"
    if status.startswith("DELETE"):
        operation = "DELETE_IN_PROGRESS"
    events = [event(0, STACK_NAME, "AWS::CloudFormation::Stack", operation, "User Initiated")]
    if row["resource_type"] == "AWS::CloudFormation::Stack":
        logical = STACK_NAME
        events.append(event(2, STACK_NAME, "AWS::CloudFormation::Stack", status, row["message"]))
    else:
        logical = "Subject"
        events.append(event(1, logical, row["resource_type"], operation))
        events.append(event(2, logical, row["resource_type"], status, row["message"]))
    return list(reversed(events)), logical


def predict(row: dict, engine: tuple, books: list, class_of: dict[str, str]) -> tuple[str, str]:
    """(predicted class, playbook id or how the event was handled) for one corpus row."""
    diagnose_events, _, stack_event = engine
    events, logical = synthetic_events(row, stack_event)
    diagnosis = diagnose_events(events, None, books)
    for failure in list(diagnosis.failures) + list(getattr(diagnosis, "delete_failures", [])):
        if failure.logical_id == logical:
            playbook = failure.playbook or UNKNOWN
            return (UNKNOWN if playbook == UNKNOWN else class_of.get(playbook, playbook)), playbook
    for dropped_id, why in getattr(diagnosis, "dropped", []):
        if dropped_id == logical:
            return CASCADE, f"dropped: {why}"
    return NONE, "not reported"


def score(rows: list[dict], predictions: list[tuple[str, str]]) -> dict:
    """Per-class precision/recall; unknown and not-reported are misses for recall, never false positives."""
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    support: Counter = Counter()
    confusion: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row, (predicted, _) in zip(rows, predictions):
        expected = row["class"]
        support[expected] += 1
        # A stack-level cascade text that diagnosis passes over silently is dropped as well.
        if predicted == expected or (expected == CASCADE and predicted == NONE):
            tp[expected] += 1
            continue
        fn[expected] += 1
        if predicted not in (UNKNOWN, NONE):
            fp[predicted] += 1
        confusion[(expected, predicted)].append(row["id"])
    classes = sorted(set(support) | set(fp))
    per_class = {}
    for cls in classes:
        predicted_total = tp[cls] + fp[cls]
        per_class[cls] = {
            "support": support[cls],
            "tp": tp[cls],
            "fp": fp[cls],
            "fn": fn[cls],
            "precision": tp[cls] / predicted_total if predicted_total else None,
            "recall": tp[cls] / support[cls] if support[cls] else None,
        }
    total_tp, total_fp = sum(tp.values()), sum(fp.values())
    precisions = [v["precision"] for v in per_class.values() if v["precision"] is not None and v["support"]]
    recalls = [v["recall"] for v in per_class.values() if v["recall"] is not None]
    overall = {
        "messages": len(rows),
        "classes": len(support),
        "micro_precision": total_tp / (total_tp + total_fp) if total_tp + total_fp else 0.0,
        "micro_recall": total_tp / len(rows) if rows else 0.0,
        "macro_precision": sum(precisions) / len(precisions) if precisions else 0.0,
        "macro_recall": sum(recalls) / len(recalls) if recalls else 0.0,
        "classes_with_any_hit": sum(1 for cls in support if tp[cls]),
    }
    worst = sorted(confusion.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        "overall": overall,
        "per_class": per_class,
        "confusion": [{"expected": e, "predicted": p, "count": len(ids), "ids": ids} for (e, p), ids in worst],
    }


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def report_text(result: dict, top: int) -> str:
    lines = []
    overall = result["overall"]
    lines.append(f"corpus: {overall['messages']} messages in {overall['classes']} classes (incl. cascade)")
    lines.append("")
    lines.append(f"{'class':34} {'n':>4} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'recall':>6}")
    for cls, v in sorted(result["per_class"].items(), key=lambda item: (-item[1]["support"], item[0])):
        lines.append(
            f"{cls:34} {v['support']:4d} {v['tp']:4d} {v['fp']:4d} {v['fn']:4d} {_fmt(v['precision']):>6} {_fmt(v['recall']):>6}"
        )
    lines.append("")
    lines.append(
        f"overall: micro precision {overall['micro_precision']:.3f}  micro recall {overall['micro_recall']:.3f}  "
        f"macro precision {overall['macro_precision']:.3f}  macro recall {overall['macro_recall']:.3f}  "
        f"classes with a hit {overall['classes_with_any_hit']}/{overall['classes']}"
    )
    lines.append("")
    lines.append(f"worst confusions (expected -> predicted), top {top}:")
    for item in result["confusion"][:top]:
        sample = ", ".join(item["ids"][:4]) + (" ..." if len(item["ids"]) > 4 else "")
        lines.append(f"  {item['count']:3d}  {item['expected']} -> {item['predicted']}   [{sample}]")
    if "events" in result:
        ev = result["events"]
        lines.append("")
        lines.append(
            f"saved events files: {ev['files']} files, {ev['exact']} with exactly the expected root causes "
            f"(logical id and class), {ev['logical_ok']} with the expected logical ids"
        )
        for item in ev["mismatches"][:top]:
            lines.append(f"  {item['file']}: expected {item['expected']} got {item['got']}")
    return "\n".join(lines)


def _event_from_raw(raw: dict, stack_event: type) -> Any:
    stamp = raw.get("Timestamp")
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return stack_event(
        event_id=str(raw["EventId"]),
        stack_name=str(raw.get("StackName", "")),
        logical_id=str(raw.get("LogicalResourceId", "")),
        resource_type=str(raw.get("ResourceType", "")),
        status=str(raw.get("ResourceStatus", "")),
        reason=str(raw.get("ResourceStatusReason") or ""),
        physical_id=str(raw.get("PhysicalResourceId") or ""),
        timestamp=stamp,
    )


def score_events(folder: Path, engine: tuple, books: list, class_of: dict[str, str]) -> dict:
    """Each saved events file against index.json: does diagnosis name exactly the expected root causes?"""
    diagnose_events, _, stack_event = engine
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    exact = logical_ok = 0
    mismatches = []
    for name, expected in sorted(index.items()):
        data = json.loads((folder / name).read_text(encoding="utf-8"))
        events = [_event_from_raw(raw, stack_event) for raw in data["StackEvents"]]
        # A nested stack's root cause is in the child's own events file (index "stack"), given as `diagnose`
        # is given it: the child's events, found by the nested stack's id.
        children = {}
        for child_file in sorted({item["stack"] for item in expected if item.get("stack")}):
            raw_child = json.loads((folder / child_file).read_text(encoding="utf-8"))["StackEvents"]
            for raw in raw_child:
                children.setdefault(str(raw.get("StackId", "")), [_event_from_raw(r, stack_event) for r in raw_child])
        if children:
            diagnosis = diagnose_events(events, None, books, children.get)
        else:
            diagnosis = diagnose_events(events, None, books)
        got = sorted(
            (f.logical_id, UNKNOWN if f.playbook in (None, UNKNOWN) else class_of.get(f.playbook, f.playbook))
            for f in list(diagnosis.failures) + list(getattr(diagnosis, "delete_failures", []))
        )
        want = sorted((item["logical_id"], item["class"]) for item in expected)
        if got == want:
            exact += 1
        if sorted(g[0] for g in got) == sorted(w[0] for w in want):
            logical_ok += 1
        if got != want:
            mismatches.append({"file": name, "expected": want, "got": got})
    return {"files": len(index), "exact": exact, "logical_ok": logical_ok, "mismatches": mismatches}


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS / "messages.jsonl", help="messages.jsonl to score")
    parser.add_argument("--events", type=Path, default=CORPUS / "events", help="folder of saved events files with index.json")
    parser.add_argument("--no-events", action="store_true", help="skip scoring the saved events files")
    parser.add_argument("--json", type=Path, help="also write the full result (per class, per message) as JSON here")
    parser.add_argument("--top", type=int, default=15, help="how many confusions to list")
    parser.add_argument("--log-level", default="error", help="engine log level while scoring (its logs go to stderr)")
    args = parser.parse_args(argv)

    try:
        configure_logging = _first_import("configure_logging", ("orchestrator.logs", "orchestrator.logging"))
        configure_logging(json=True, level=args.log_level)
    except SystemExit:
        pass  # no logging set-up to quiet: the scores are the same
    engine = load_engine()
    books = list(engine[1]())
    class_of = {book.id: playbook_class(book) for book in books}
    rows = load_messages(args.corpus)
    predictions = [predict(row, engine, books, class_of) for row in rows]
    result = score(rows, predictions)
    result["playbooks"] = class_of
    result["predictions"] = [
        {"id": row["id"], "expected": row["class"], "predicted": p, "via": via}
        for row, (p, via) in zip(rows, predictions)
    ]
    if not args.no_events and (args.events / "index.json").is_file():
        result["events"] = score_events(args.events, engine, books, class_of)
    print(report_text(result, args.top))
    if args.json:
        write_atomic(args.json, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
