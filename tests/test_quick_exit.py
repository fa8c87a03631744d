"""The console entry ends the process without the interpreter's teardown, yet as sys.exit would for the outside:
exit status, other threads' work, atexit handlers (logging's flush among them) and buffered output all survive."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
from orchestrator.cli.common import quick_exit

out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))

def late_writer():
    time.sleep(0.2)
    (out / "thread").write_text("done")

threading.Thread(target=late_writer).start()  # not a daemon: a normal exit waits for it, so must this one
sys.stdout.write("x" * 200_000)  # more than any pipe buffer: only a flush gets it all out
code = sys.argv[2]
quick_exit(int(code) if code.isdigit() else (None if code == "none" else code))
"""


@pytest.mark.parametrize(("code", "status"), [("0", 0), ("3", 3), ("none", 0), ("text", 1), ("258", 2)])
def test_quick_exit_keeps_what_a_normal_exit_does(tmp_path: Path, code: str, status: int) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == status
    assert len(proc.stdout) == 200_000
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "done"
    assert proc.stderr.strip() == ("text" if code == "text" else "")


def test_the_console_entry_point_keeps_exit_codes_and_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources: [\n")
    proc = subprocess.run([sys.executable, "-m", "orchestrator", "forecast", str(bad)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "bad.yaml" in proc.stderr
    good = ROOT / "examples" / "webtier-broken.yaml"
    proc = subprocess.run([sys.executable, "-m", "orchestrator", "forecast", "--format", "json", str(good)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1  # the example's known failures are findings
    assert json.loads(proc.stdout)["findings"]


POOL = """
import sys
from concurrent.futures import ThreadPoolExecutor
from orchestrator.cli.common import quick_exit

pool = ThreadPoolExecutor(max_workers=2)
print(pool.submit(pow, 2, 10).result())
quick_exit(0)  # the pool is never shut down: only concurrent.futures' exit hook stops its threads
"""


def test_quick_exit_with_an_open_thread_pool_ends_like_a_normal_exit() -> None:
    proc = subprocess.run([sys.executable, "-c", POOL], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert (proc.returncode, proc.stdout.strip()) == (0, "1024")
