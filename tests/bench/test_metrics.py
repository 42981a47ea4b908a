from kelp.bench.metrics import bootstrap_ci, per_category, per_family, solved_at, summarize


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    values = [1.0] * 60 + [0.0] * 40
    lo, hi = bootstrap_ci(values, seed=3)
    assert lo < 0.6 < hi
    assert (lo, hi) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci([]) == (0.0, 0.0)


def test_solved_at_counts_executions_within_budget():
    records = [
        {"solved": True, "executions_to_solve": 1},
        {"solved": True, "executions_to_solve": 5},
        {"solved": True, "executions_to_solve": 70},
        {"solved": False, "executions_to_solve": None},
    ]
    assert solved_at(records) == {"1": 0.25, "4": 0.25, "16": 0.5, "64": 0.5, "256": 0.75}


def test_summary_has_the_documented_fields():
    records = [{"solved": True, "executions_to_solve": 2, "restored": True, "seconds": 1.0, "localization_top1": True},
               {"solved": False, "seconds": 3.0, "localization_top1": False}]
    summary = summarize(records, dropped={"never_breaks": 1})
    for key in ("n", "solved", "solved_rate", "ci95", "solved_at", "restored_rate", "median_seconds",
                "localization_top1", "dropped"):
        assert key in summary
    assert summary["n"] == 2 and summary["solved"] == 1 and summary["restored_rate"] == 0.5
    assert summary["localization_top1"] == 0.5 and summary["dropped"] == {"never_breaks": 1}


def test_overfit_share_counts_repairs_that_fail_their_hidden_tests():
    records = [{"solved": True, "executions_to_solve": 1, "hidden_pass": True},
               {"solved": True, "executions_to_solve": 3, "hidden_pass": False},
               {"solved": True, "executions_to_solve": 3, "hidden_pass": True},
               {"solved": False}]
    summary = summarize(records)
    assert summary["overfit_share"] == round(1 / 3, 4) and summary["correct"] == 2 and summary["correct_rate"] == 0.5
    assert summarize(records[3:])["overfit_share"] is None  # nothing judged on hidden tests


def test_per_family_counts_a_task_under_each_of_its_families():
    records = [{"solved": True, "mutations": [{"family": "delete_statement"}]},
               {"solved": False, "mutations": [{"family": "delete_statement"}, {"family": "drop_condition"}]},
               {"solved": True, "mutations": [{"family": "drop_condition"}, {"family": "drop_condition"}]},
               {"solved": True}]
    assert per_family(records) == {"delete_statement": {"n": 2, "solved": 1, "solved_rate": 0.5},
                                   "drop_condition": {"n": 2, "solved": 1, "solved_rate": 0.5}}
    assert summarize(records)["per_family"] == per_family(records)


def test_per_category_counts_human_bugs_by_their_category():
    records = [{"solved": True, "category": "missing logic", "executions_to_solve": 1},
               {"solved": False, "category": "missing logic"},
               {"solved": True, "category": "operator misuse", "executions_to_solve": 40},
               {"solved": True}]
    assert per_category(records) == {
        "missing logic": {"n": 2, "solved": 1, "solved_rate": 0.5, "solved_at_16": 1},
        "operator misuse": {"n": 1, "solved": 1, "solved_rate": 1.0, "solved_at_16": 0}}
    assert summarize(records)["per_category"] == per_category(records)
    assert summarize(records[3:])["per_category"] == {}


def test_differential_judging_counts_a_repair_correct_only_if_it_passes_every_judge():
    records = [{"solved": True, "differential_pass": True},
               {"solved": True, "differential_pass": False},
               {"solved": True, "differential_pass": True, "hidden_pass": False},
               {"solved": True}, {"solved": False}]
    summary = summarize(records)
    assert summary["differential_correct"] == 1 and summary["overfit_share_differential"] == round(2 / 3, 4)
    assert summarize(records[3:])["overfit_share_differential"] is None
