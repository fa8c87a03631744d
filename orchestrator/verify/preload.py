"""The warm-up of verify's fork server: work every worker would otherwise repeat, done once before they fork.

Worker processes start from multiprocessing's fork server. Imported there (the server's preload), this module
imports the deploy loop, the template tools and the sandbox with its self-test verdict, loads cfn-lint's
rules and, for the run's regions, the resource schemas of the types its templates use, and imports moto's
packages for those types. Workers then fork with all of it in memory: a run pays its start-up once, not
once per worker, so a second worker adds its cells' work and nothing else. The run's plan arrives in the
environment variable below (the fork server's only input); without it nothing is warmed. A warm-up that
fails is dropped silently: each worker's own start-up repeats the checks and reports what is wrong.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from typing import Any

PLAN_VARIABLE = "CFN_AUTOFIX_VERIFY_PRELOAD"
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
_MAX_TEMPLATES = 64  # types are read from this many templates at most; the rest warm in their workers


def plan(target: str, regions: list[str], templates: list[str]) -> str:
    return json.dumps({"target": target, "regions": sorted(set(regions)),
                       "templates": sorted(set(templates))[:_MAX_TEMPLATES]})


def _resource_types(paths: list[str]) -> list[str]:
    from orchestrator.template import load_template

    found: set[str] = set()
    for path in paths:
        try:
            resources = load_template(path).resources
        except Exception:  # noqa: BLE001 - a bad template is reported by its own cell
            continue
        found.update(r.get("Type") for r in resources.values() if isinstance(r, dict) and isinstance(r.get("Type"), str))
    return sorted(found)


def _lint_text(types: list[str]) -> str:
    body = "".join(f"  R{index}:\n    Type: {json.dumps(kind)}\n" for index, kind in enumerate(types))
    return "Resources:\n" + (body or "  R0:\n    Type: AWS::SQS::Queue\n")


def warm(settings: dict[str, Any]) -> None:
    """Import and load what the plan's cells will need (see the module's docstring)."""
    import orchestrator.deploy.loop  # noqa: F401
    import orchestrator.template  # noqa: F401
    from orchestrator.catalog.playbooks import load_playbooks
    from orchestrator.remedy import lint_guard

    load_playbooks()  # 40 YAML files, read once per process

    types = _resource_types(list(settings.get("templates") or []))
    if settings.get("target") == "embedded":
        from orchestrator.sandbox import lazy_models, patches

        patches.self_test()
        for kind in types:
            lazy_models.load_namespace(kind.rsplit("::", 1)[0])
    # The rule collection and, per region, the schemas of exactly these types: what a repair's guard reads.
    lint_guard.warm(list(settings.get("regions") or []), _lint_text(types))


def start_forkserver(cells: Sequence[Any], target: str) -> None:
    """Start the fork server with this module as its warm-up, for these cells (each with .region, .template).

    verify calls this as soon as it knows its cells, before it reads the templates or imports its logging, so
    that the warm-up (the serial part of a run: no worker can fork before it ends) runs on another core
    meanwhile. A fork server that is already running (an earlier run in this process) is kept: it is warm for
    that run, and what this one needs beyond it each worker loads on first use.
    """
    from multiprocessing import forkserver

    if START_METHOD != "forkserver" or _forkserver_running():
        return
    # '__main__' is multiprocessing's default preload: the workers then do not import the main module again.
    forkserver.set_forkserver_preload(["__main__", __name__])
    previous = os.environ.get(PLAN_VARIABLE)
    os.environ[PLAN_VARIABLE] = plan(target, [c.region for c in cells], [str(c.template) for c in cells])
    try:
        forkserver.ensure_running()
    finally:
        if previous is None:
            os.environ.pop(PLAN_VARIABLE, None)
        else:
            os.environ[PLAN_VARIABLE] = previous


def _forkserver_running() -> bool:
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    return getattr(server, "_forkserver_pid", None) is not None


# CPU seconds the fork server spent warming up, and when (epoch seconds): workers inherit and report them.
WARM_CPU_S = 0.0
WARM_AT: tuple[float, ...] = ()


def _from_environment() -> None:
    global WARM_CPU_S, WARM_AT
    text = os.environ.get(PLAN_VARIABLE)
    if not text:
        return
    started, started_at = time.process_time(), time.time()
    # The warm-up creates objects and frees almost none (imports, rules, schemas): the collector's passes
    # meanwhile find nothing and cost ~25% of it. It runs again in the workers.
    collecting = gc.isenabled()
    gc.disable()
    try:
        from structlog.testing import capture_logs

        # The fork server has no log configuration of its own; what the warm-up logs is not the run's output.
        with capture_logs():
            warm(json.loads(text))
    except Exception:  # noqa: BLE001 - see the module's docstring
        return
    finally:
        WARM_CPU_S = round(time.process_time() - started, 2)
        WARM_AT = (started_at, time.time())
        # What the warm-up built is shared, copy-on-write, by every worker forked from here. Frozen, the
        # collector never walks it again: a worker's collections neither take the time to traverse it nor
        # write to each object's header, which would copy the whole heap into every worker.
        gc.freeze()
        if collecting:
            gc.enable()


_from_environment()
