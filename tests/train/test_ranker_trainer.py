"""Training the proposal ranker: real search data from real searches, a real (tiny) LightGBM
model, written as a ranker file the search loads; bad data is a clear error."""

import json

import pytest

from kelp.models.ranker import Ranker
from kelp.train.ranker_trainer import (RankerConfig, RankerTrainingError, first_correct_ranks, ranked_candidates,
                                       ranking_groups,
                                       train_ranker)


@pytest.fixture(scope="module")
def data(search_data):
    return search_data


def test_groups_are_the_proposals_of_one_state_in_the_proposers_order(data):
    groups = ranking_groups(ranked_candidates([data]))
    assert groups
    for g in groups:
        assert len(g["rows"]) == len(g["labels"]) >= 2
        ranks = [row["rank"] for row in g["rows"]]
        assert ranks == sorted(ranks) and set(g["labels"]) <= {0, 1, 3}


def test_a_tiny_ranker_trains_and_the_search_can_load_it(data, tmp_path):
    out = tmp_path / "ranker.json"
    report = train_ranker([data], out, RankerConfig(trees=10, min_leaf=2, holdout=0.5), validate=[data])
    assert report["examples"] > 0 and report["groups"] > 0 and report["held_out_groups"] > 0
    assert report["max_score_difference_from_lightgbm"] < 1e-9
    assert report["held_out_ranker"]["groups"] == report["held_out_proposer_order"]["groups"] > 0
    assert report["validation_ranker"]["groups"] == report["validation_proposer_order"]["groups"] > 0
    assert 0.0 <= report["validation_ranker"]["top1"] <= report["validation_ranker"]["top16"] <= 1.0
    ranker = Ranker.load(out)
    groups = ranking_groups(ranked_candidates([data]))
    assert len(ranker.score(groups[0]["rows"])) == len(groups[0]["rows"])
    assert json.loads(out.read_text())["format"] == "kelp-ranker/1"


def test_first_correct_ranks_follow_the_scores():
    groups = [{"rows": [{}, {}, {}], "labels": [0, 0, 3]}, {"rows": [{}, {}], "labels": [0, 1]}]
    assert first_correct_ranks(groups, None) == [2]
    assert first_correct_ranks(groups, [[0.0, 0.0, 1.0], [0.0, 0.0]]) == [0]


def test_data_without_correct_candidates_is_refused(tmp_path):
    (tmp_path / "tasks.jsonl").write_text(json.dumps({"key": "k", "task_id": "1", "solved": False}) + "\n")
    (tmp_path / "candidates.jsonl").write_text("")
    with pytest.raises(RankerTrainingError, match="too few"):
        train_ranker([tmp_path], tmp_path / "r.json")


def test_the_command_names_a_missing_data_folder(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "train", "ranker", "--data", str(tmp_path / "nope"),
                           "--out", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"kelp: error: not search-data folders (no tasks.jsonl): {tmp_path / 'nope'}"
    assert not (tmp_path / "r.json").exists()


def test_balanced_families_and_excluded_features(data, tmp_path):
    from kelp.train.ranker_trainer import family_weights
    groups = [{"rows": [{"family": "a"}, {"family": "b"}], "labels": [0, 3]},
              {"rows": [{"family": "b"}], "labels": [3]}, {"rows": [{"family": "c"}], "labels": [3]},
              {"rows": [{"family": "a"}], "labels": [1]}]
    assert family_weights(groups) == [0.75, 0.75, 1.5, 1.0]  # b twice, c once: each family weighs 1.5
    out = tmp_path / "r.json"
    train_ranker([data], out, RankerConfig(trees=10, min_leaf=2, holdout=0.5, balance_families=True,
                                           exclude=("family", "op")))
    importance = json.loads(out.read_text())["importance"]
    assert importance["family"] == 0 and importance["op"] == 0
    with pytest.raises(RankerTrainingError, match="unknown features"):
        train_ranker([data], out, RankerConfig(trees=2, min_leaf=2, holdout=0.5, exclude=("colour",)))
