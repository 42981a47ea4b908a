"""Search-labelled data: real searches on MBPP training problems in the real sandbox, every
candidate labelled by execution, resumable, never from the test split."""

import json

import pytest

from kelp.datasets.jsonl import read_records
from kelp.train.search_data import (LABELS, SearchDataConfig, SearchDataError, generate_search_data,
                                    read_search_data)


def test_every_candidate_is_labelled_and_a_rerun_resumes(tmp_path):
    config = SearchDataConfig(split="validation", n=3, budget=16, seconds=20.0)
    summary = generate_search_data(config, tmp_path, workers=1, quiet=True)
    tasks, candidates = read_search_data(tmp_path)
    assert summary["tasks"] == len(tasks) >= 2 and summary["candidates"] == len(candidates) > 0
    assert {c["label"] for c in candidates} <= set(LABELS)
    for c in candidates:
        assert c["key"] in {t["key"] for t in tasks}
        assert (c["label"] == "failing") == (not c["plausible"])
        assert c["family"] and c["execution"] >= 1 and 0.0 < c["prior"] <= 1.0
    ranked = [c["features"] for c in candidates if c["features"]]
    assert ranked and all("lm_total_delta" in row for row in ranked)  # the naturalness of each patch
    for t in tasks:
        assert len(t["visible"]) == 1 and sum(t["labels"].values()) == sum(1 for c in candidates if c["key"] == t["key"])
    solved = [t for t in tasks if t["solved"]]
    assert all(t["labels"]["correct"] + t["labels"]["plausible_wrong"] >= 1 for t in solved)
    before = (tmp_path / "candidates.jsonl").read_text()
    assert generate_search_data(config, tmp_path, workers=1, quiet=True)["candidates"] == summary["candidates"]
    assert (tmp_path / "candidates.jsonl").read_text() == before  # nothing run twice
    assert json.loads((tmp_path / "summary.json").read_text())["tasks"] == summary["tasks"]


def test_candidates_of_an_unfinished_task_are_dropped(tmp_path):
    (tmp_path / "tasks.jsonl").write_text(json.dumps({"key": "a", "solved": False}) + "\n")
    (tmp_path / "candidates.jsonl").write_text(json.dumps({"key": "a", "label": "failing"}) + "\n"
                                               + json.dumps({"key": "b", "label": "correct"}) + "\n")
    tasks, candidates = read_search_data(tmp_path)
    assert [c["key"] for c in candidates] == ["a"] and len(read_records(tmp_path / "candidates.jsonl")) == 2


def test_a_task_cut_off_mid_write_runs_again_without_duplicate_candidates(tmp_path):
    config = SearchDataConfig(split="validation", n=2, budget=8, seconds=20.0)
    generate_search_data(config, tmp_path, workers=1, quiet=True)
    tasks, candidates = read_search_data(tmp_path)
    cut = tasks[-1]["key"]  # as a run killed after its candidate lines, before its task line
    lines = (tmp_path / "tasks.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "tasks.jsonl").write_text("".join(lines[:-1]))
    generate_search_data(config, tmp_path, workers=1, quiet=True)
    again_tasks, again = read_search_data(tmp_path)
    assert [t["key"] for t in again_tasks].count(cut) == 1
    assert sorted(json.dumps(c, sort_keys=True) for c in again) == sorted(json.dumps(c, sort_keys=True) for c in candidates)


def test_the_test_split_and_other_settings_are_refused(tmp_path):
    with pytest.raises(SearchDataError, match="not a training split"):
        generate_search_data(SearchDataConfig(split="test"), tmp_path / "a", quiet=True)
    with pytest.raises(SearchDataError, match="policy 'bank' is not one of realistic, calls, excess"):
        generate_search_data(SearchDataConfig(split="validation", policy="bank"), tmp_path / "p", quiet=True)
    generate_search_data(SearchDataConfig(split="validation", n=1, budget=2), tmp_path / "b", workers=1, quiet=True)
    with pytest.raises(SearchDataError, match="other settings"):
        generate_search_data(SearchDataConfig(split="validation", n=1, budget=3), tmp_path / "b", workers=1, quiet=True)


def test_the_command_refuses_the_test_split_in_one_line(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "train", "search-data", "--split", "test",
                           "--out", str(tmp_path / "d")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("kelp: error: bad settings: split 'test' is not a training split; "
                                   "use one of train, validation, prompt")
    assert not (tmp_path / "d").exists()


def test_ray_tasks_make_the_data_of_the_serial_run(tmp_path):
    pytest.importorskip("ray")
    config = SearchDataConfig(split="validation", n=3, budget=8, seconds=20.0)
    serial = generate_search_data(config, tmp_path / "serial", workers=1, quiet=True)
    remote = generate_search_data(config, tmp_path / "ray", quiet=True, ray="local")
    assert serial == remote

    def lines(folder, name):
        return sorted(json.dumps(r, sort_keys=True) for r in read_records(folder / name))

    for name in ("tasks.jsonl", "candidates.jsonl"):
        assert lines(tmp_path / "serial", name) == lines(tmp_path / "ray", name)
