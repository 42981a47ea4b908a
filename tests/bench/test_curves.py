"""solved@budget curves from eval result folders: the table, the plot, and bad folders."""

import json
import subprocess
import sys

from kelp.bench.curves import solved_curve


def _run(folder, ranker, solved_at):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"bench": "mbpp", "steps": 1, "proposer": "enum",
                                                     "ranker": ranker}))
    lines = [{"task_id": str(i), "solved": k is not None, "executions_to_solve": k} for i, k in enumerate(solved_at)]
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return folder


def test_solved_curve_counts_tasks_solved_within_each_budget():
    records = [{"solved": True, "executions_to_solve": 1}, {"solved": True, "executions_to_solve": 3},
               {"solved": False, "executions_to_solve": None}, {"solved": True, "executions_to_solve": 0}]
    assert solved_curve(records, 4) == [0.5, 0.5, 0.75, 0.75]


def test_the_command_compares_runs_on_their_common_tasks_and_draws_the_plot(tmp_path):
    a = _run(tmp_path / "a", None, [1, 5, None, 2])
    b = _run(tmp_path / "b", "default", [1, 1, 3])
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "eval", "curves", str(a), str(b), "--plot",
                           str(tmp_path / "c.png")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    table = json.loads(proc.stdout)
    assert table["mbpp steps1 enum ranker off"]["n"] == table["mbpp steps1 enum ranker"]["n"] == 3
    assert table["mbpp steps1 enum ranker off"]["solved_at"]["1"] == round(1 / 3, 4)
    assert table["mbpp steps1 enum ranker"]["solved_at"]["1"] == round(2 / 3, 4)
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_a_folder_without_results_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "eval", "curves", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "" and "no results.jsonl records" in proc.stderr


def test_runs_of_other_edit_models_get_their_own_labels(tmp_path):
    from kelp.bench.curves import run_label

    for name, checkpoint in (("a", None), ("b", "runs/exit/round-2/train/checkpoint")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"bench": "mbpp", "steps": 1, "proposer": "both",
                                                                 "checkpoint": checkpoint}))
    assert run_label(tmp_path / "a") == "mbpp steps1 both ranker off"
    assert run_label(tmp_path / "b") == "mbpp steps1 both ranker off model round-2"
