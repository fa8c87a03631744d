"""The verify runner (unit level): cells through a bounded pool with a stand-in deploy function."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from orchestrator.verify import reports
from orchestrator.errors import BadInput
from orchestrator.verify.outputs import cell_graphs
from orchestrator.verify.progress import Progress
from orchestrator.verify.run import cell_out_path, plan, run_cells, verify

FIXTURES = Path(__file__).parent / "fixtures" / "verify"
MATRIX = FIXTURES / "matrix.toml"
REPORTS = FIXTURES / "reports"


class FakeDeploy:
    """Stands in for deploy_with_autofix: a fixture report per template, with call bookkeeping."""

    def __init__(self, *, crash_on: str | None = None, delay: float = 0.0):
        self.crash_on = crash_on
        self.delay = delay
        self.calls: list[dict] = []
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, template, **kwargs):
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.calls.append({"template": template, **kwargs})
        try:
            time.sleep(self.delay)
            name = Path(template.path).name
            if self.crash_on and self.crash_on == f"{name}|{kwargs['region']}":
                raise ValueError(f"boom in {name}")
            fixture = {"bucket.yaml": "green", "queue.yaml": "retried", "deployer.json": "repaired"}[name]
            report = json.loads((REPORTS / f"{fixture}.json").read_text())
            report["region"] = kwargs["region"]
            return SimpleNamespace(report=report)
        finally:
            with self._lock:
                self.running -= 1


def test_every_cell_runs_once_with_its_settings(tmp_path):
    vplan = plan(matrix_path=MATRIX)
    deploy = FakeDeploy()
    records = run_cells(vplan.cells, deploy=deploy, workers=3, out_dir=tmp_path)
    assert sorted(r["id"] for r in records) == [c.id for c in vplan.cells]
    legacy = [c for c in deploy.calls if Path(c["template"].path).name == "deployer.json"]
    assert {c["region"] for c in legacy} == {"us-east-1"}
    assert all(c["max_attempts"] == 2 and c["target"] == "embedded" for c in legacy)
    assert {c["parameters"]["InstanceType"] for c in legacy} == {"t3.micro"}


def test_parameters_the_template_does_not_declare_are_not_passed(tmp_path):
    vplan = plan(matrix_path=MATRIX)
    deploy = FakeDeploy()
    records = {r["id"]: r for r in run_cells(vplan.cells, deploy=deploy, workers=2, out_dir=tmp_path)}
    bucket_prod = next(c for c in deploy.calls if Path(c["template"].path).name == "bucket.yaml" and c["parameters"].get("Env") == "prod")
    assert bucket_prod["parameters"] == {"Env": "prod"}
    assert records["templates/bucket.yaml|us-east-1|prod"]["ignored_parameters"] == ["Unused"]
    queue = next(c for c in deploy.calls if Path(c["template"].path).name == "queue.yaml")
    assert queue["parameters"] == {}


def test_a_crash_is_that_cells_error_never_the_runs(tmp_path):
    vplan = plan(matrix_path=MATRIX)
    deploy = FakeDeploy(crash_on="bucket.yaml|eu-west-1")
    run = verify(vplan, deploy=deploy, workers=4, out_dir=tmp_path)
    errors = [c for c in run["cells"] if c["outcome"] == reports.ERROR]
    assert sorted(c["id"] for c in errors) == ["templates/bucket.yaml|eu-west-1|dev", "templates/bucket.yaml|eu-west-1|prod"]
    assert all(c["error"] == "ValueError: boom in bucket.yaml" for c in errors)
    assert "Traceback" in errors[0]["traceback"]
    assert run["summary"]["cells"] == 10 and run["summary"]["errors"] == 2
    assert reports.exit_code(run) == 1


def test_a_template_that_does_not_parse_is_that_cells_bad_input(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources: [\n")
    vplan = plan([str(broken)])
    run = verify(vplan, deploy=FakeDeploy(), workers=1, out_dir=tmp_path / "out")
    (only,) = run["cells"]
    assert only["outcome"] == reports.ERROR
    assert only["error"].startswith("BadInput: ") and "broken.yaml" in only["error"]


def test_workers_bound_the_parallelism(tmp_path):
    vplan = plan(matrix_path=MATRIX)
    deploy = FakeDeploy(delay=0.05)
    run_cells(vplan.cells, deploy=deploy, workers=3, out_dir=tmp_path)
    assert 2 <= deploy.peak <= 3


def test_workers_must_be_positive(tmp_path):
    with pytest.raises(BadInput, match="--workers"):
        run_cells(plan(matrix_path=MATRIX).cells, deploy=FakeDeploy(), workers=0, out_dir=tmp_path)


def test_each_cell_writes_its_repaired_template_to_its_own_path(tmp_path):
    vplan = plan(matrix_path=MATRIX)
    deploy = FakeDeploy()
    run_cells(vplan.cells, deploy=deploy, workers=2, out_dir=tmp_path)
    outs = [c["out"] for c in deploy.calls]
    assert len(set(outs)) == len(outs)
    assert all(Path(o).is_relative_to(tmp_path) for o in outs)
    legacy = next(c for c in vplan.cells if c.label.endswith("deployer.json"))
    assert cell_out_path(legacy, tmp_path).name == "deployer.fixed.json"


def test_merged_shards_equal_the_single_run_modulo_timings(tmp_path):
    single = verify(plan(matrix_path=MATRIX), deploy=FakeDeploy(), workers=2, out_dir=tmp_path)
    shards = []
    for k in (1, 2, 3):
        vplan = plan(matrix_path=MATRIX, shard=(k, 3))
        run = verify(vplan, deploy=FakeDeploy(), workers=2, out_dir=tmp_path)
        assert run["shard"] == {"index": k, "count": 3}
        shards.append((f"shard{k}.json", json.loads(reports.render_json(run))))
    assert sum(len(run["cells"]) for _, run in shards) == len(single["cells"])
    merged = reports.merge_runs(shards)
    assert reports.strip_timings(merged["cells"]) == reports.strip_timings(single["cells"])
    assert reports.strip_timings(merged["summary"]) == reports.strip_timings(single["summary"])

    def untimed(xml: str) -> str:
        import re

        return re.sub(r'time="[0-9.]+"', 'time=""', xml)

    assert untimed(reports.render_junit(merged)) == untimed(reports.render_junit(single))


def test_plan_needs_templates_or_a_matrix():
    with pytest.raises(BadInput, match="--matrix"):
        plan(None)


def test_progress_logs_cells_done_over_total(tmp_path):
    vplan = plan(matrix_path=MATRIX)
    with capture_logs() as logs:
        run_cells(vplan.cells[:3], deploy=FakeDeploy(), workers=1, out_dir=tmp_path)
    finished = [e for e in logs if e["event"] == "verify_cell_finished"]
    assert [(e["done"], e["total"]) for e in finished] == [(1, 3), (2, 3), (3, 3)]
    assert {e["event"] for e in logs} >= {"verify_cell_started", "verify_cell_state"}


def test_progress_live_table_shows_running_cells():
    stream = io.StringIO()
    progress = Progress(2, live=False, stream=stream)
    progress.started("a|us-east-1|default")
    progress.state("a|us-east-1|default", "deploying")
    from rich.console import Console

    console = Console(file=io.StringIO(), width=120)
    console.print(progress._render())
    text = console.file.getvalue()
    assert "0/2 cells done" in text and "a|us-east-1|default" in text and "deploying" in text


def test_cell_graphs_show_the_failing_resources_and_neighbours(tmp_path):
    run = verify(plan(matrix_path=MATRIX), deploy=FakeDeploy(), workers=2, out_dir=tmp_path)
    graphs = cell_graphs(run)
    repaired_ids = [c["id"] for c in run["cells"] if c["outcome"] == reports.REPAIRED]
    assert sorted(graphs) == sorted(repaired_ids)
    text = graphs[repaired_ids[0]]
    assert "DeployRole" in text and "Group" in text
    # App is not a neighbour of DeployRole: not shown.
    assert "App<br/>" not in text


def _command(tmp_path, deploy, **overrides):
    from orchestrator.cli.verify import run_verify_command

    options = dict(
        matrix_path=MATRIX,
        regions=None,
        workers=2,
        shard=None,
        junit=tmp_path / "r" / "junit.xml",
        report_md=tmp_path / "r" / "report.md",
        report_json=tmp_path / "r" / "report.json",
        fail_on_repair=False,
        target="embedded",
        endpoint_url=None,
        out_dir=tmp_path / "fixed",
        deploy=deploy,
        stream=io.StringIO(),
    )
    options.update(overrides)
    return run_verify_command(None, **options), options


def test_verify_command_writes_every_report_and_exit_codes(tmp_path):
    import xml.etree.ElementTree as ET

    code, options = _command(tmp_path, FakeDeploy())
    assert code == 0  # green and repaired cells only
    run = json.loads((tmp_path / "r" / "report.json").read_text())
    assert run["summary"]["cells"] == 10 and run["summary"]["green_after_repair"] == 2
    assert ET.parse(tmp_path / "r" / "junit.xml").getroot().get("tests") == "10"
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert "## green after repair: templates/legacy/deployer.json, us-east-1 [dev]" in markdown
    assert "verify: 10 cell(s), 8 green at first try, 2 green after repair" in options["stream"].getvalue()
    assert not list((tmp_path / "r").glob(".*.tmp"))

    code, _ = _command(tmp_path, FakeDeploy(), fail_on_repair=True)
    assert code == 1
    code, _ = _command(tmp_path, FakeDeploy(crash_on="queue.yaml|us-east-1"))
    assert code == 1


def test_verify_command_shard_then_merge_command(tmp_path):
    from orchestrator.cli.report import run_merge_command

    files = []
    for k in (1, 2):
        code, _ = _command(tmp_path, FakeDeploy(), shard=f"{k}/2", report_json=tmp_path / f"s{k}.json", junit=None, report_md=None)
        files.append(tmp_path / f"s{k}.json")
    stream = io.StringIO()
    code = run_merge_command(files, junit=tmp_path / "m.xml", report_md=tmp_path / "m.md", report_json=tmp_path / "m.json", stream=stream)
    assert code == 0
    assert json.loads((tmp_path / "m.json").read_text())["summary"]["cells"] == 10
    assert run_merge_command(files[:1], junit=None, report_md=None, report_json=None, stream=io.StringIO()) == 1


@pytest.mark.parametrize(
    "case,overrides,expected",
    [
        ("bad-target", {"target": "mars"}, "--target 'mars'"),
        ("endpoint-without-url", {"target": "endpoint"}, "--endpoint-url"),
        ("bad-shard", {"shard": "3/2"}, "--shard '3/2'"),
        ("zero-workers", {"workers": 0}, "--workers"),
    ],
)
def test_verify_command_bad_input(tmp_path, case, overrides, expected):
    with pytest.raises(BadInput, match=expected.replace("'", "'")):
        _command(tmp_path, FakeDeploy(), **overrides)


@pytest.mark.parametrize("configured", [False, True])
def test_each_running_cells_state_is_its_deploys_phase_and_the_hosts_logging_is_left_alone(tmp_path, configured):
    # The host's structlog configuration (none at all, or its own) is neither read nor changed by a run:
    # the cells' states come from the phase callback the deploy function is handed.
    import structlog

    host_configured, host_config = structlog.is_configured(), structlog.get_config()
    structlog.reset_defaults()
    if configured:
        structlog.configure(processors=[structlog.processors.JSONRenderer()],
                            logger_factory=structlog.PrintLoggerFactory(io.StringIO()))
    before = structlog.get_config()
    seen: list[tuple[str, str]] = []

    class Recording(Progress):
        def state(self, cell_id, text, *, echo=True):
            seen.append((cell_id, text))
            super().state(cell_id, text, echo=echo)

    def deploy(template, *, on_state, **kwargs):
        assert structlog.get_config() == before
        on_state("attempt 2: watching the create")
        return FakeDeploy()(template, **kwargs)

    cells = plan(matrix_path=MATRIX).cells[:2]
    try:
        with Recording(len(cells), live=True, stream=io.StringIO()) as progress:
            run_cells(cells, deploy=deploy, workers=1, out_dir=tmp_path, progress=progress)
        assert structlog.get_config() == before
    finally:
        structlog.reset_defaults()
        if host_configured:
            structlog.configure(**host_config)
    for cell in cells:
        assert (cell.id, "attempt 2: watching the create") in seen
    assert progress.done == 2


def test_ctrl_c_cancels_running_cells_and_records_the_queued_ones(tmp_path, monkeypatch):
    # Ctrl-C is raised in the main thread's wait loop once the first cell runs: deterministic, unlike an
    # OS signal sent to the pytest worker. tests/test_interrupt.py sends real signals to a real process.
    import orchestrator.verify.run as verify_module

    cells = plan(matrix_path=MATRIX).cells[:3]
    seen_cancel = []
    running = threading.Event()
    real_wait = verify_module.wait

    def wait_then_ctrl_c(*args, **kwargs):
        if running.wait(timeout=10):
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(verify_module, "wait", wait_then_ctrl_c)

    def deploy(template, *, cancel_event, **kwargs):
        running.set()
        seen_cancel.append(cancel_event.wait(timeout=10))
        report = json.loads((REPORTS / "green.json").read_text())
        report["status"] = "interrupted"
        return SimpleNamespace(report=report)

    cancel = threading.Event()
    records = run_cells(cells, deploy=deploy, workers=1, out_dir=tmp_path, cancel_event=cancel)
    assert cancel.is_set() and seen_cancel == [True]
    outcomes = sorted((r.get("error") or "", reports.classify(r)) for r in records)
    assert outcomes == [("", reports.FAILED), ("Interrupted: not run", reports.ERROR), ("Interrupted: not run", reports.ERROR)]


def _logging_deploy(template, **kwargs):
    """A deploy function worker processes can import: logs one event, returns a green report."""
    import structlog

    structlog.get_logger("tests").info("deploy_called", template=Path(template.path).name)
    report = json.loads((REPORTS / "green.json").read_text())
    report["region"] = kwargs["region"]
    return SimpleNamespace(report=report)


def test_worker_processes_log_through_the_hosts_configuration_and_print_nothing(tmp_path, capfd, monkeypatch):
    # A library host that configured structlog its own way (here: capture_logs), not through the CLI.
    from orchestrator import logs as our_logs
    from orchestrator.verify.workers import PoolSettings

    monkeypatch.setitem(our_logs._state, "configured", False)
    cells = plan(matrix_path=MATRIX).cells[:2]
    with capture_logs() as logs:
        records = run_cells(cells, deploy=_logging_deploy, workers=2, out_dir=tmp_path,
                            pool=PoolSettings(memory_mb=0, warm=False))
    assert [r["error"] for r in records] == [None, None]
    called = [e for e in logs if e["event"] == "deploy_called"]
    assert sorted(e["cell"] for e in called) == sorted(c.id for c in cells)  # the cell id travels with it
    printed = capfd.readouterr()
    assert "deploy_called" not in printed.out and "deploy_called" not in printed.err


def test_plan_tells_on_cells_this_shards_cells_before_reading_any_template(tmp_path, monkeypatch):
    """verify starts its workers' warm-up from on_cells: it must come before the templates are read."""
    import orchestrator.template

    reads: list[str] = []
    told: list[list[str]] = []
    real_load = orchestrator.template.load_template

    def load(path, *args, **kwargs):
        reads.append(str(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(orchestrator.template, "load_template", load)
    vplan = plan(matrix_path=MATRIX, shard=(2, 3), on_cells=lambda cells: told.append([c.id for c in cells]) or reads.clear())
    assert len(told) == 1
    assert sorted(told[0]) == sorted(c.id for c in vplan.cells)
    assert reads  # the templates were read after on_cells (the list was emptied there)
