"""cfn-lint as a guard: a repair that introduces a cfn-lint error the original template did not have is rejected."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import structlog

from orchestrator.errors import RepairRejected
from orchestrator.template.cfnlint_seams import check_seams

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LintError:
    """One cfn-lint error (E-rule) in a template."""

    rule: str
    message: str
    line: int | None
    path: tuple[str, ...]

    @property
    def key(self) -> tuple:
        # Line numbers move when a repair inserts text; the rule and the node path do not.
        return (self.rule, self.path) if self.path else (self.rule, self.message)

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.rule} {self.message}"


@lru_cache(maxsize=1)
def _runner():
    """One cfn-lint Runner (its rule collection) for every region: loading the rules costs seconds and memory,
    and the rules take the region from each lint call, not from the runner."""
    check_seams()  # the runner and its config are cfn-lint internals
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(regions=["us-east-1"]))


_RUNNER_LOCK = threading.Lock()


@lru_cache(maxsize=64)
def _lint_text(text: str, region: str) -> tuple[LintError, ...]:
    check_seams()
    # Imported lazily: cfn-lint is heavy. Not cfnlint.api.lint: it accepts only a RulesCollection, which
    # a Runner's rules are not, and otherwise loads every rule again (~2 s of CPU per call).
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    runner = _runner()
    # The rule collection keeps per-run state; verify lints from several threads at once.
    with _RUNNER_LOCK:
        try:
            document, matches = decode_str(text)
            if not matches and document is not None:
                matches = list(run_template_by_data(document, ConfigMixIn(regions=[region]), runner.rules))
        except Exception as exc:  # cfn-lint crashes on some malformed templates (e.g. a string where a mapping goes)
            # One stable pseudo-error: the same crash before and after a repair is not new, a crash only after is.
            log.debug("lint_crashed", error=f"{type(exc).__name__}: {exc}")
            return (LintError(rule="E0000", message=f"cfn-lint could not check the template ({type(exc).__name__})",
                              line=None, path=()),)
    errors = []
    for match in matches:
        rule = str(match.rule.id)
        if not rule.startswith("E"):
            continue
        errors.append(
            LintError(
                rule=rule,
                message=str(match.message),
                line=int(match.linenumber) if match.linenumber else None,
                path=tuple(str(p) for p in (getattr(match, "path", None) or ())),
            )
        )
    return tuple(errors)


def lint_errors(template, region: str = "us-east-1") -> list[LintError]:
    """cfn-lint's errors (E-rules only) for a template in one region."""
    return list(_lint_text(template.dumps(), region))


def _focus(before, after) -> tuple[str, str] | None:
    """The two templates cut down to what a repair can have affected, as JSON texts; None to lint them whole.

    A repair edits resources. Besides the edited resources, cfn-lint's verdict on them depends on what they
    reference and what references them (Ref, GetAtt, Sub, DependsOn), and on the other sections, which are
    kept whole. Linting that neighbourhood costs what the round changed instead of the whole template
    twice per round (most of a big deploy's time). Errors of the cut-down text that both sides share
    (a reference into the cut) are not new and cancel out in the comparison.
    """
    import json

    from orchestrator.template import refs
    from orchestrator.template.refs import refs_in

    # A Template is a mapping whose Resources is a non-empty mapping (loading and patching both refuse others).
    old_doc, new_doc = before.document, after.document
    old_res, new_res = old_doc["Resources"], new_doc["Resources"]
    if {k: v for k, v in old_doc.items() if k != "Resources"} != {k: v for k, v in new_doc.items() if k != "Resources"}:
        return None
    changed = {lid for lid in old_res.keys() | new_res.keys() if old_res.get(lid) != new_res.get(lid)}
    if not changed:
        return None
    keep = set(changed)
    for resources in (old_res, new_res):
        for lid, body in resources.items():
            targets = refs_in(body, resources) | {d for d in refs.depends_on(body) if d in resources}
            if lid in changed:
                keep |= targets
            elif targets & changed:
                keep.add(lid)
    if len(keep) * 2 > len(new_res):
        return None  # most of the template: the cut saves nothing

    def cut(doc: dict, resources: dict) -> str:
        return json.dumps({**doc, "Resources": {lid: body for lid, body in resources.items() if lid in keep}}, indent=1)

    return cut(old_doc, old_res), cut(new_doc, new_res)


def _with_lines(errors: tuple[LintError, ...], template) -> list[LintError]:
    """Errors of a cut-down text carry the line of the same node in the template itself."""
    return [LintError(e.rule, e.message, template.line_of(list(e.path)) if e.path else None, e.path) for e in errors]


def new_errors(before, after, region: str = "us-east-1") -> list[LintError]:
    """Errors `after` has that `before` did not (counted, so a second copy of an old error is new)."""
    focus = _focus(before, after)
    if focus is None:
        old_errors, new_errs = lint_errors(before, region), lint_errors(after, region)
    else:
        old_errors = list(_lint_text(focus[0], region))
        new_errs = _with_lines(_lint_text(focus[1], region), after)
    old = Counter(e.key for e in old_errors)
    introduced = []
    for error in new_errs:
        if old[error.key] > 0:
            old[error.key] -= 1
        else:
            introduced.append(error)
    return introduced


def check_repair(before, after, region: str = "us-east-1") -> list[str]:
    """The cfn-lint error lines a repair introduces; empty means the repair may be deployed."""
    introduced = [str(e) for e in new_errors(before, after, region)]
    if introduced:
        log.warning("repair_lint_rejected", errors=len(introduced), first=introduced[0])
    return introduced


def guard(before, after, region: str = "us-east-1", *, repair: str = "repair") -> None:
    """Raise RepairRejected when the repaired template has new cfn-lint errors."""
    introduced = check_repair(before, after, region)
    if introduced:
        raise RepairRejected(f"{repair} introduces cfn-lint errors: " + "; ".join(introduced))


def warm(regions: list[str], text: str) -> None:
    """Load the rules and, per region, the resource schemas a template's types need, before any repair asks."""
    for region in regions:
        _lint_text(text, region)
