"""The learned proposal ranker: its features, its tree walk against LightGBM's own predictions,
and its effect on the order of a real search in the real sandbox."""

import json
import math
import random

import pytest

from kelp.execute.suites import TestSuite
from kelp.program.tree import parse
from kelp.repair.enumerate import EnumerativeProposer
from kelp.repair.proposer import Candidate, Feedback
from kelp.models.ranker import CompiledTrees, Ranker, RankerError, load_default
from kelp.models.naturalness import load_ngram
from kelp.repair.ranking import CATEGORICAL, FEATURES, NATURALNESS, proposal_features, reorder, token_count
from kelp.repair.search import RepairConfig, repair

# count_pos with `x < 0` where `x > 0` was meant (the `if` is on line 5), and its tests
from test_search import BUGGY, TESTS, sandbox  # noqa: F401  (sandbox: the module's fixture)


def _proposals():
    tree = parse(BUGGY)
    feedback = Feedback(lines={5: 1.0, 6: 0.5, 1: 0.1, 3: 0.1, 4: 0.2, 7: 0.1}, failing_constants=(2, 1))
    cands = sorted(EnumerativeProposer().propose(tree, feedback, None), key=lambda c: -c.score)
    return tree, feedback, cands


def test_every_proposal_gets_every_feature():
    tree, feedback, cands = _proposals()
    rows = proposal_features(cands, tree, feedback.lines, feedback.failing_constants, 0, 0, 0.0, "AssertionError",
                             2, BUGGY, load_ngram())
    assert len(rows) == len(cands) > 10
    for rank, row in enumerate(rows):
        assert set(row) == set(FEATURES) and row["rank"] == rank
        assert all(isinstance(row[name], str) for name in CATEGORICAL)
        assert all(isinstance(row[name], (int, float)) and math.isfinite(row[name])
                   for name in FEATURES if name not in CATEGORICAL and row[name] is not None)
    plain = proposal_features(cands, tree, feedback.lines, feedback.failing_constants, 0, 0, 0.0, "AssertionError")
    assert all(set(row) == set(FEATURES) - set(NATURALNESS) for row in plain)
    flips = [r for r, c in zip(rows, cands) if c.family == "compare_flip" and c.edit.new == "x > 0"]
    assert flips and flips[0]["suspiciousness"] == 1.0 and flips[0]["line_rank"] == 0
    assert flips[0]["node"] == "Compare" and flips[0]["removes"] == 0
    deletions = [r for r, c in zip(rows, cands) if c.edit.op == "delete"]
    assert all(r["removes"] == 1 and r["new_size"] == 0 for r in deletions)


def test_naturalness_features_score_the_edited_line_before_and_after():
    tree, feedback, cands = _proposals()
    rows = proposal_features(cands, tree, feedback.lines, feedback.failing_constants, 0, 0, 0.0, None, 2, BUGGY,
                             load_ngram())
    by_edit = {(c.edit.op, c.edit.new, c.edit.path): r for c, r in zip(cands, rows)}
    flip = next(r for (op, new, _p), r in by_edit.items() if new == "x > 0")
    # the whole line `if x < 0:` is scored, before and after: both sides are finite and the
    # total change equals the per-token change times the line's length
    assert flip["lm_old"] > 0 and flip["lm_new"] > 0
    assert flip["lm_total_delta"] == pytest.approx(flip["lm_delta"] * (token_count("if x > 0:") + 1), rel=1e-6)
    deletes = [r for (op, _n, _p), r in by_edit.items() if op == "delete"]
    assert deletes and all(r["lm_new"] is None or r["lm_total_delta"] < 0 for r in deletes)
    inserts = [r for (op, _n, _p), r in by_edit.items() if op == "insert"]
    assert all(r["lm_old"] is None and r["lm_delta"] is None and r["lm_total_delta"] > 0 for r in inserts)
    # the cache model of the program's other lines scores the same two sides
    assert flip["cache_old"] > 0 and flip["cache_new"] > 0
    assert flip["cache_total_delta"] == pytest.approx(flip["cache_delta"] * (token_count("if x > 0:") + 1), rel=1e-6)
    assert all(r["cache_old"] is None and r["cache_total_delta"] > 0 for r in inserts)


def test_the_bundled_model_finds_the_natural_fix_more_natural():
    lm = load_ngram()
    assert lm.entropy("return abs(a - b)") < lm.entropy("return a - b")
    assert lm.entropy("for i in range(len(xs)):") < lm.entropy("for i in range(len(xs) + 1):")


def test_writing_a_failing_tests_constant_into_the_program_is_flagged():
    tree, feedback, cands = _proposals()
    rows = proposal_features(cands, tree, feedback.lines, (2, 77), 0, 0, 0.0, None)
    flagged = {c.edit.new for r, c in zip(rows, cands) if r["test_constant"]}
    assert flagged and all("77" in new or "2" in new for new in flagged)


def test_reading_a_name_nobody_reads_and_dropping_a_names_last_read_are_flagged():
    from kelp.program.diff import Edit

    source = "def ncr_mod(n, r, p):\n    total = n + r\n    return total % r\n"
    tree = parse(source)
    path = ("body", 0, "body", 1, "value", "right")  # the `r` of `total % r`
    cands = [Candidate(Edit("replace", path, new="p"), 0.5, "wrong_variable"),
             Candidate(Edit("replace", path, new="n"), 0.5, "wrong_variable"),
             Candidate(Edit("replace", ("body", 0, "body", 1, "value", "left"), new="n"), 0.5, "wrong_variable")]
    rows = proposal_features(cands, tree, {}, (), 0, 0, 0.0, None)
    assert [r["reads_unread"] for r in rows] == [1, 0, 0]  # `p` is a parameter nobody reads
    assert [r["unreads"] for r in rows] == [0, 0, 1]  # `total` was read only there


def test_token_count():
    assert token_count("x >= lo and x <= hi") == 9  # ">=" is two marks and token_count("") == 0


def test_the_tree_walk_matches_lightgbm_on_numeric_categorical_and_missing_values():
    lgb = pytest.importorskip("lightgbm")
    np = pytest.importorskip("numpy")
    rng = random.Random(0)
    rows, labels = [], []
    for _ in range(60):
        group = []
        for _ in range(8):
            family = rng.choice(["a", "b", "c", "d"])
            prior = rng.random()
            zero = rng.choice([0.0, 0.0, rng.random()])
            group.append(([float(["a", "b", "c", "d"].index(family) + 1), prior, zero,
                           math.nan if rng.random() < 0.2 else rng.random()],
                          int(family == "b" and prior > 0.3) * 3 + int(zero > 0.5)))
        rows.append(group)
    x = np.array([r for g in rows for r, _ in g])
    y = np.array([label for g in rows for _, label in g])
    data = lgb.Dataset(x, y, group=[len(g) for g in rows], categorical_feature=[0],
                       feature_name=["family", "prior", "zero", "gap"])
    booster = lgb.train({"objective": "lambdarank", "num_leaves": 7, "min_data_in_leaf": 5, "verbosity": -1,
                         "seed": 0, "deterministic": True, "num_threads": 1, "label_gain": [0, 1, 2, 3, 4]},
                        data, num_boost_round=25)
    ranker = Ranker({"features": ["family", "prior", "zero", "gap"], "vocab": {},
                     "trees": booster.dump_model()["tree_info"]})
    ours = [ranker.score_encoded(list(row)) for row in x]
    theirs = booster.predict(x, raw_score=True)
    assert max(abs(a - b) for a, b in zip(ours, theirs)) < 1e-9
    assert CompiledTrees(ranker.trees).score([list(row) for row in x]) == ours  # the batched walk, exactly


def test_the_batched_trees_score_every_row_as_one_walk_does():
    ranker = load_default()
    rng = random.Random(1)
    rows = []
    for _ in range(500):
        row = []
        for name in ranker.features:
            if name in ranker.vocab:  # known codes, the unknown 0, a code past the vocabulary, missing
                row.append(rng.choice([0.0, 99.0, math.nan, *map(float, ranker.vocab[name].values())]))
            else:
                row.append(rng.choice([math.nan, 0.0, -1.0, 1.0, rng.uniform(-5, 20), float(rng.randint(0, 30))]))
        rows.append(row)
    assert CompiledTrees(ranker.trees).score(rows) == [ranker.score_encoded(row) for row in rows]
    assert ranker.score([]) == [] and CompiledTrees([]).score([[0.0]]) == [0.0]


def test_reorder_changes_which_proposal_goes_first_not_the_scores_a_state_hands_out():
    _tree, _feedback, cands = _proposals()
    head = [c.score for c in cands[:5]]
    scores = [0.0, 0.0, 0.0, 9.0, 0.0] + [0.0] * (len(cands) - 5)
    out, _order = reorder(cands, scores[:5])
    assert out[0].edit == cands[3].edit and [c.score for c in out[:5]] == head
    assert [c.edit for c in out[1:5]] == [c.edit for c in (cands[0], cands[1], cands[2], cands[4])]
    assert out[5:] == cands[5:]


def _family_ranker(path, family: str, vocab_names: list[str]):
    """A one-tree ranker file that scores proposals of ``family`` 1 and all others 0."""
    vocab = {name: {} for name in CATEGORICAL}
    vocab["family"] = {name: i + 1 for i, name in enumerate(sorted(vocab_names))}
    tree = {"tree_structure": {"split_feature": FEATURES.index("family"), "decision_type": "==",
                               "threshold": str(vocab["family"][family]), "default_left": False,
                               "missing_type": "None", "left_child": {"leaf_value": 1.0},
                               "right_child": {"leaf_value": 0.0}}}
    path.write_text(json.dumps({"features": list(FEATURES), "vocab": vocab, "trees": [tree]}))
    return path


def test_a_ranker_decides_which_proposal_the_search_runs_first(sandbox, tmp_path):
    _tree, _feedback, cands = _proposals()
    families = sorted({c.family for c in cands})
    seen_off, seen_on = [], []
    off = repair(BUGGY, TESTS, sandbox, RepairConfig(budget=64, ranker=None), observer=seen_off.append)
    first_off = seen_off[0].family
    other = next(f for f in families if f != first_off and f in {c.family for c in seen_off[1:]})
    path = _family_ranker(tmp_path / "r.json", other, families)
    repair(BUGGY, TESTS, sandbox, RepairConfig(budget=64, ranker=str(path)), observer=seen_on.append)
    assert off.solved and seen_on[0].family == other
    assert seen_on[0].rank == 0 and seen_on[0].features["family"] == other
    assert seen_on[0].features["rank"] > 0  # the feature is the proposers' rank, before the ranker


def test_a_bad_ranker_file_is_a_clear_error(tmp_path):
    with pytest.raises(RankerError, match="cannot read"):
        Ranker.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text(json.dumps({"trees": []}))
    with pytest.raises(RankerError, match="not a kelp ranker"):
        Ranker.load(tmp_path / "bad.json")


SCALE = '''def scale(x, k):
    return x - k
'''
SCALE_TESTS = TestSuite.from_asserts(["assert scale(2, 2) == 4"])


def _accept_ranker(path, first_rank: int, doubted: bool):
    """A ranker file whose accept model gives the proposals of rank <= ``first_rank`` a
    probability near 0 (``doubted``) or 1, and every other proposal the opposite."""
    low, high = (-5.0, 5.0) if doubted else (5.0, -5.0)
    tree = {"tree_structure": {"split_feature": FEATURES.index("rank"), "decision_type": "<=",
                               "threshold": first_rank + 0.5, "default_left": True, "missing_type": "None",
                               "left_child": {"leaf_value": low}, "right_child": {"leaf_value": high}}}
    constant = {"tree_structure": {"leaf_value": 0.0}}
    path.write_text(json.dumps({"features": list(FEATURES), "vocab": {name: {} for name in CATEGORICAL},
                                "trees": [constant], "accept": {"trees": [tree], "threshold": 0.5}}))
    return path


def test_a_doubted_repair_makes_the_search_look_further_for_a_trusted_one(sandbox, tmp_path):
    seen = []
    first = repair(SCALE, SCALE_TESTS, sandbox, RepairConfig(budget=64, ranker=None, simplify=0), observer=seen.append)
    first_run = next(c for c in seen if c.plausible)
    doubting = _accept_ranker(tmp_path / "doubt.json", first_run.features["rank"], doubted=True)
    later = repair(SCALE, SCALE_TESTS, sandbox, RepairConfig(budget=64, ranker=str(doubting), simplify=0))
    assert first.solved and later.solved and later.repaired != first.repaired
    assert later.executions_to_solve > first.executions_to_solve
    trusting = _accept_ranker(tmp_path / "trust.json", first_run.features["rank"], doubted=False)
    same = repair(SCALE, SCALE_TESTS, sandbox, RepairConfig(budget=64, ranker=str(trusting), simplify=0))
    assert same.repaired == first.repaired and same.executions_to_solve == first.executions_to_solve


def test_a_doubted_repair_is_still_returned_when_nothing_better_turns_up(sandbox, tmp_path):
    seen = []
    first = repair(SCALE, SCALE_TESTS, sandbox, RepairConfig(budget=64, ranker=None, simplify=0), observer=seen.append)
    everything = _accept_ranker(tmp_path / "all.json", 10**6, doubted=True)
    kept = repair(SCALE, SCALE_TESTS, sandbox, RepairConfig(budget=64, ranker=str(everything), simplify=0,
                                                              doubt_extra=8))
    assert kept.solved and kept.repaired == first.repaired
    assert kept.executions_to_solve == first.executions_to_solve and kept.executions <= first.executions + 8 + 2


def test_the_command_line_names_a_ranker_that_is_not_a_file(tmp_path):
    import subprocess
    import sys
    prog, tests = tmp_path / "prog.py", tmp_path / "tests.py"
    prog.write_text(BUGGY)
    tests.write_text("assert count_pos([1, -2, 3]) == 2\n")
    proc = subprocess.run([sys.executable, "-m", "kelp.cli", "repair", str(prog), "--tests", str(tests),
                           "--ranker", str(tmp_path / "nope.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"kelp: error: --ranker: {tmp_path / 'nope.json'} is not a ranker file (or off, bundled)"


def test_the_bundled_ranker_loads_and_scores(tmp_path):
    from kelp.models.ranker import load_default
    ranker = load_default()
    assert ranker is not None and ranker.features == FEATURES and ranker.accept_trees
    tree, feedback, cands = _proposals()
    rows = proposal_features(cands, tree, feedback.lines, feedback.failing_constants, 0, 0, 0.0, "AssertionError", 4)
    scores = ranker.score(rows)
    assert len(scores) == len(rows) and all(math.isfinite(s) for s in scores)
    assert 0.0 <= ranker.accept(rows[0]) <= 1.0


def test_a_line_with_double_quoted_strings_is_scored_whole():
    # ast.unparse writes 'a' where the source has "a": the edited node is still found in its line
    source = 'def f(s, n):\n    if s == "a" and n > 0:\n        return 1\n    return 0\n'
    tree = parse(source)
    cands = sorted(EnumerativeProposer().propose(tree, Feedback(lines={2: 1.0})), key=lambda c: -c.score)
    rows = proposal_features(cands, tree, {2: 1.0}, (), 0, 0, 0.0, None, 1, source, load_ngram())
    flip = next(r for r, c in zip(rows, cands) if c.edit.new == "n >= 0")
    from kelp.models.naturalness import code_tokens

    whole = len(code_tokens('if s == "a" and n >= 0:')) + 1  # nine tokens and the line's end
    assert flip["lm_total_delta"] == pytest.approx(flip["lm_delta"] * whole, rel=1e-6)
    assert flip["cache_total_delta"] == pytest.approx(flip["cache_delta"] * whole, rel=1e-6)
