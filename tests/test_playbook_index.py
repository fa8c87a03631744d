"""The packaged playbooks' index (their parsed YAML, by text hash): fresh, equal to the YAML, and never trusted stale."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from gen_playbook_index import FOLDER, entries, render  # noqa: E402

from orchestrator.catalog.playbooks import INDEX_NAME, parse_playbook, read_folder  # noqa: E402
from orchestrator.template import read_data_yaml  # noqa: E402


def from_yaml(folder: Path) -> list[dict]:
    return [parse_playbook(read_data_yaml(p), f"playbooks/{p.name}").to_json()
            for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.suffix in (".yaml", ".yml")]


def test_the_packaged_index_is_fresh() -> None:
    assert (FOLDER / INDEX_NAME).read_text(encoding="utf-8") == render(entries()), \
        "a playbook changed: run tools/gen_playbook_index.py"


def test_playbooks_read_through_the_index_equal_the_yaml_parse() -> None:
    books = [book.to_json() for book in read_folder(FOLDER, "playbooks/")]
    assert len(books) >= 40
    assert books == from_yaml(FOLDER)


def test_an_edited_or_added_playbook_is_read_from_its_yaml_not_the_index(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(FOLDER, folder)
    edited = folder / "bucket-not-empty.yaml"
    text = edited.read_text(encoding="utf-8")
    assert "title: S3 bucket not empty on delete" in text
    edited.write_text(text.replace("title: S3 bucket not empty on delete", "title: Edited title"), encoding="utf-8")
    (folder / "zz-added.yaml").write_text(text.replace("id: bucket-not-empty", "id: zz-added"), encoding="utf-8")
    books = {book.id: book for book in read_folder(folder, "playbooks/")}
    assert books["bucket-not-empty"].title == "Edited title"
    assert books["zz-added"].title == "S3 bucket not empty on delete"
    assert [book.to_json() for book in books.values()] == from_yaml(folder)


def test_without_an_index_the_yaml_is_parsed(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(FOLDER, folder)
    (folder / INDEX_NAME).write_text("not json", encoding="utf-8")
    assert [book.to_json() for book in read_folder(folder, "playbooks/")] == from_yaml(FOLDER)
