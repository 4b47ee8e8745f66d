"""Wide tables from tidy records: statistics over seeds, marks, dimensions, filters, baseline."""

import pytest

from sslbench.contract.errors import SSLBenchError
from sslbench.reporting.records import apply_where, eval_key
from sslbench.reporting.tables import BEST, SECOND, build_table, cell, mark_groups, rank_marks

from reporting_records import add, config, frame


def _cells(table):
    return {(idx[0], col): (table.mean.at[idx, col], table.marks.at[idx, col])
            for idx in table.mean.index for col in table.columns}


def test_cell_is_mean_std_n_over_seeds():
    assert cell(2.0, 1.0, 3) == "2.00 ± 1.00 (3)"
    assert cell(87.6, float("nan"), 1) == "87.60"
    assert cell(float("nan"), float("nan"), 0) == "–"


def test_ties_for_best_and_second_all_get_the_mark():
    assert rank_marks([90.0, 85.0, 90.0, 85.0, 80.0], True) == [BEST, SECOND, BEST, SECOND, ""]


def test_lower_is_better_marks_the_smallest():
    assert rank_marks([0.5, 0.2, 0.9, 0.2], False) == [SECOND, BEST, "", BEST]


def test_ties_are_judged_at_the_printed_precision():
    assert rank_marks([90.001, 90.004, 89.0], True, decimals=2) == [BEST, BEST, SECOND]
    assert rank_marks([90.001, 90.004, 89.0], True, decimals=3) == [SECOND, BEST, ""]


def test_no_marks_with_one_value_or_mixed_directions():
    assert rank_marks([90.0, None], True) == ["", ""]
    assert rank_marks([90.0, 80.0], None) == ["", ""]


def test_table_aggregates_seeds_and_marks_per_column_respecting_direction(tmp_path):
    store = tmp_path / "r.sqlite"
    for seed, (a, b, c) in enumerate([(80, 70, 80), (82, 72, 80)]):
        add(store, "moco", a, seed=seed)
        add(store, "ressl", b, seed=seed)
        add(store, "sce", c, seed=seed)
        # a lower-is-better metric where the worst top-1 is the best
        add(store, "moco", 3.0, metric="loss", seed=seed, higher_is_better=False)
        add(store, "ressl", 1.0, metric="loss", seed=seed, higher_is_better=False)
        add(store, "sce", 3.0, metric="loss", seed=seed, higher_is_better=False)
    table = build_table(frame(store))
    assert table.columns == ["knn loss", "knn top1"]
    cells = _cells(table)
    assert cells[("moco", "knn top1")] == (81.0, BEST)
    assert cells[("sce", "knn top1")] == (80.0, SECOND)
    assert cells[("ressl", "knn top1")] == (71.0, "")
    assert cells[("ressl", "knn loss")] == (1.0, BEST)
    assert cells[("moco", "knn loss")][1] == SECOND and cells[("sce", "knn loss")][1] == SECOND
    assert table.n.loc[("moco",), "knn top1"] == 2 and table.std.loc[("moco",), "knn top1"] == pytest.approx(2 ** 0.5)
    assert table.higher_is_better == {"knn loss": False, "knn top1": True}
    assert "Lower is better for knn loss" in table.caption


def test_rows_from_a_config_value_keep_sweeps_apart(tmp_path):
    store = tmp_path / "r.sqlite"
    for t, v in [(0.1, 60.0), (0.2, 70.0), (0.3, 65.0)]:
        add(store, "moco", v, method_params={"temperature": t})
    add(store, "random", 20.0)
    table = build_table(frame(store), rows=["method", "moco.temperature"])
    assert list(table.mean.index) == [("moco", "0.1"), ("moco", "0.2"), ("moco", "0.3"), ("random", "–")]
    assert table.mean["knn top1"].tolist() == [60.0, 70.0, 65.0, 20.0]
    assert not table.notes


def test_configs_mixed_in_one_cell_keep_the_latest_and_say_why(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 60.0, method_params={"temperature": 0.1})
    add(store, "moco", 70.0, method_params={"temperature": 0.2})
    table = build_table(frame(store))
    assert table.mean["knn top1"].tolist() == [70.0]
    assert table.notes and "moco.temperature" in table.notes[0]


def test_a_repeated_evaluation_counts_once(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 60.0)
    add(store, "moco", 61.0)
    table = build_table(frame(store))
    assert table.mean["knn top1"].tolist() == [61.0] and table.n["knn top1"].tolist() == [1]
    assert not table.notes


def test_eval_key_ignores_which_other_protocols_ran_alongside():
    alone = config("moco", protocol="knn", protocol_params={"k": [20]})
    both = dict(alone, protocols=["knn", "linear"], linear={"epochs": 100})
    assert eval_key(alone, "knn") == eval_key(both, "knn")
    assert eval_key(alone, "knn") != eval_key(dict(alone, knn={"k": [5]}), "knn")


def test_columns_and_rows_can_be_any_dimension(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 60.0, dataset="digits", seed=0)
    add(store, "moco", 62.0, dataset="digits", seed=1)
    add(store, "moco", 50.0, dataset="cifar10", seed=0)
    table = build_table(frame(store), rows=["dataset"], columns=["seed"])
    assert table.columns == ["seed=0", "seed=1"]
    assert list(table.mean.index) == [("cifar10",), ("digits",)]
    # default layout: a varying dataset becomes part of the columns instead of being averaged
    default = build_table(frame(store))
    assert default.columns == ["cifar10 knn top1", "digits knn top1"]


def test_where_filters_on_columns_and_config_values(tmp_path):
    store = tmp_path / "r.sqlite"
    for t in (0.1, 0.2):
        for seed in (0, 1, 2):
            add(store, "moco", 60.0 + seed, seed=seed, method_params={"temperature": t})
    add(store, "random", 20.0)
    df = frame(store)
    assert set(apply_where(df, ["method=moco,sce"])["method"]) == {"moco"}
    assert set(apply_where(df, ["seed!=2"])["seed"]) == {0, 1}
    assert len(apply_where(df, ["moco.temperature=0.2"])) == 3
    assert len(apply_where(df, ["method=moco", "moco.temperature=0.1", "seed=0,1"])) == 2
    with pytest.raises(SSLBenchError, match="key=value"):
        apply_where(df, ["method"])


def test_baseline_gives_differences_to_its_row(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 80.0)
    add(store, "sce", 83.5)
    add(store, "random", 20.0)
    table = build_table(frame(store), baseline="random")
    delta = table.delta["knn top1"]
    assert delta.loc[("moco",)] == pytest.approx(60.0) and delta.loc[("sce",)] == pytest.approx(63.5)
    assert delta.loc[("random",)] != delta.loc[("random",)]  # the baseline row itself: no difference
    assert "difference of the mean to random" in table.caption
    with pytest.raises(SSLBenchError, match="not a row"):
        build_table(frame(store), baseline="byol")


def test_caption_states_protocol_preset_and_checkpoint_rule(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 80.0, protocol="linear", protocol_params={"preset": "a5.1", "epochs": 100, "lr": 30.0})
    table = build_table(frame(store), defaults={"linear": {"preset": "a5.1", "epochs": 100, "lr": 30.0}})
    assert "Protocol: linear (preset a5.1)" in table.caption
    assert "Pretraining preset: digits (resnet18, 200 epochs, batch 256" in table.caption
    assert "Checkpoint: last epoch" in table.caption


def test_unknown_dimension_and_overlap_are_clear_errors(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 80.0)
    with pytest.raises(SSLBenchError, match="unknown table dimension 'methd'"):
        build_table(frame(store), rows=["methd"])
    with pytest.raises(SSLBenchError, match="both a row and a column"):
        build_table(frame(store), rows=["method"], columns=["method"])


def test_marks_rank_methods_within_each_dataset_when_datasets_are_rows(tmp_path):
    store = tmp_path / "r.sqlite"
    for dataset, values in [("digits", {"moco": 90.0, "random": 80.0}),
                            ("cifar10", {"moco": 60.0, "sce": 55.0, "random": 50.0})]:
        for method, value in values.items():
            add(store, method, value, dataset=dataset)
    table = build_table(frame(store), rows=["dataset", "method"])
    marks = {idx: table.marks.at[idx, "knn top1"] for idx in table.mean.index}
    assert marks == {("cifar10", "moco"): BEST, ("cifar10", "random"): "", ("cifar10", "sce"): SECOND,
                     ("digits", "moco"): BEST, ("digits", "random"): SECOND}
    assert "Best in bold, second best underlined, per column within each dataset." in table.caption


def test_marks_compare_methods_and_swept_values_but_group_identity_dimensions():
    assert mark_groups(["dataset", "method"]) == ["dataset"]
    assert mark_groups(["method", "moco.temperature"]) == []  # the sweep is what is compared
    assert mark_groups(["backbone", "method", "seed"]) == ["backbone", "seed"]
    assert mark_groups(["dataset", "backbone"]) == ["dataset"]  # backbones compared within each dataset
    assert mark_groups(["dataset"]) == []


def _moco_and_random(store, random_input=16):
    """MoCo with its digits preset beside the untrained reference row (the defaults' settings)."""
    add(store, "moco", 80.0, train={"epochs": 80, "batch_size": 128, "lr": 0.12}, data={"input_size": 16})
    add(store, "random", 20.0, data={"input_size": random_input})


def test_caption_says_the_untrained_row_has_no_pretraining_instead_of_varied(tmp_path):
    store = tmp_path / "r.sqlite"
    _moco_and_random(store)
    caption = build_table(frame(store), untrained={"random"}).caption
    assert "varied" not in caption
    assert ("Pretraining preset: digits (resnet18, input 16px); moco: 80 epochs, batch 128, lr 0.12, sgd; "
            "random: no pretraining.") in caption


def test_caption_states_differing_training_settings_per_row(tmp_path):
    store = tmp_path / "r.sqlite"
    _moco_and_random(store, random_input=32)
    caption = build_table(frame(store)).caption  # nothing known about the methods: both trained
    assert "varied" not in caption and "variedpx" not in caption
    assert ("Pretraining preset: digits (resnet18, sgd); moco: 80 epochs, batch 128, lr 0.12, input 16px; "
            "random: 200 epochs, batch 256, lr 0.06, input 32px.") in caption


def test_caption_groups_rows_sharing_settings(tmp_path):
    store = tmp_path / "r.sqlite"
    for method in ("moco", "sce"):
        add(store, method, 80.0, train={"epochs": 100})
    add(store, "random", 20.0)
    caption = build_table(frame(store), untrained={"random"}).caption
    assert ("Pretraining preset: digits (resnet18, input 32px); moco, sce: 100 epochs, batch 256, lr 0.06, sgd; "
            "random: no pretraining.") in caption


def test_caption_names_row_and_dataset_when_settings_differ_per_dataset(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 80.0, dataset="digits", train={"epochs": 80})
    add(store, "moco", 60.0, dataset="cifar10", train={"epochs": 200})
    caption = build_table(frame(store)).caption
    assert "moco cifar10: 200 epochs; moco digits: 80 epochs." in caption


def test_caption_states_protocol_settings_per_row_when_they_differ(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 80.0, protocol_params={"k": [20, 200], "temperature": 0.07})
    add(store, "random", 20.0, protocol_params={"k": [20], "temperature": 0.07})
    caption = build_table(frame(store), defaults={"knn": {"k": [20, 200], "temperature": 0.07}}).caption
    assert "Protocol: knn (moco: k [20, 200]; random: k [20])." in caption
    # a swept setting placed in the rows is in the table, not in the caption
    placed = build_table(frame(store), rows=["method", "knn.k"]).caption
    assert "Protocol: knn (temperature 0.07)." in placed


def test_note_names_the_protocol_setting_that_differs_inside_a_cell(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "random", 20.0, protocol_params={"k": [20, 200]})
    add(store, "random", 21.0, protocol_params={"k": [20]})
    add(store, "moco", 80.0, method_params={"temperature": 0.2})
    table = build_table(frame(store))
    assert table.mean["knn top1"].tolist() == [80.0, 21.0]
    assert len(table.notes) == 1 and "differing in knn.k;" in table.notes[0]


def test_a_record_saying_it_did_not_train_needs_no_registry(tmp_path):
    store = tmp_path / "r.sqlite"
    add(store, "moco", 80.0)
    add(store, "imported-baseline", 20.0, trains=False)  # not installed here
    caption = build_table(frame(store)).caption
    assert ("Pretraining preset: digits (resnet18, input 32px); imported-baseline: no pretraining; "
            "moco: 200 epochs, batch 256, lr 0.06, sgd.") in caption
