"""Experiment-1 data: the generator's sets and the paper-format JSONL loader (offline)."""

from __future__ import annotations

import pytest

from common.cli import UserError
from common.config import compose_config
from papers.reversal_curse.data import (
    P2D_TEMPLATES,
    RELEASED_TEST_FILES,
    TRAIN_FILE,
    gold_name,
    load_sets,
    make_facts,
    people,
    read_jsonl,
    released_sets,
    synthetic_sets,
)
from tests.papers.reversal_curse.released import AUTHORS_SEVEN, D2P_TRAIN, write_released

TRAIN = TRAIN_FILE.removesuffix(".jsonl")


@pytest.fixture(scope="module")
def sets():
    return synthetic_sets(compose_config("reversal_curse", ["scale=cpu"]))


def _facts(examples):
    return {(ex.name, ex.description) for ex in examples}


def test_counts_and_uniqueness():
    facts = make_facts(30, seed=0)
    assert len(facts) == 90
    assert [sum(f.subset == s for f in facts) for s in ("p2d", "d2p", "both")] == [30, 30, 30]
    firsts = [f.name.split()[0] for f in facts]
    assert len(set(firsts)) == 90 and len({f.name.split()[1] for f in facts}) == 90
    assert len({f.description for f in facts}) == 90
    assert make_facts(30, seed=0) == facts and make_facts(30, seed=1) != facts


def test_set_sizes(sets):
    # 30 facts x 8 training templates per direction; Both in both directions
    assert len(sets[TRAIN]) == 30 * 8 * 4
    for stem in ("p2d_prompts_train", "d2p_reverse_prompts_test", "both_d2p_prompts_train"):
        assert len(sets[stem]) == 30 * 8
    assert (
        len(sets["p2d_prompts_test"]) == 30 * 2 and len(sets["d2p_reverse_prompts_heldout"]) == 60
    )


def test_no_fact_leaks_between_subsets(sets):
    subset_facts = {s: _facts(sets[f"{s}_prompts_train"]) for s in ("p2d", "d2p")}
    subset_facts["both"] = _facts(sets["both_d2p_prompts_train"])
    assert all(len(f) == 30 for f in subset_facts.values())
    a, b, c = subset_facts.values()
    assert not (a & b) and not (a & c) and not (b & c)
    for stem, examples in sets.items():
        if stem != TRAIN:
            owner = "both" if stem.startswith("both") else stem[:3]
            assert _facts(examples) <= subset_facts[owner], stem


def test_reverse_prompts_never_in_training_text(sets):
    train_text = [ex.text for ex in sets[TRAIN]]
    for stem in ("p2d_reverse_prompts_test", "d2p_reverse_prompts_test",
                 "p2d_reverse_prompts_heldout", "d2p_reverse_prompts_heldout"):  # fmt: skip
        for ex in sets[stem]:
            assert not any(ex.prompt in t for t in train_text), ex.prompt
    # p2d facts are only ever trained name first, d2p facts description first
    for ex in sets[TRAIN]:
        name_first = ex.text.index(ex.name) < ex.text.index(ex.description)
        if (ex.name, ex.description) in _facts(sets["p2d_prompts_train"]):
            assert name_first
        if (ex.name, ex.description) in _facts(sets["d2p_prompts_train"]):
            assert not name_first


def test_held_out_templates_are_not_trained(sets):
    trained = {ex.prompt.replace(ex.name, "{name}") for ex in sets["p2d_prompts_train"]}
    held = {ex.prompt.replace(ex.name, "{name}") for ex in sets["p2d_prompts_test"]}
    assert trained == set(P2D_TEMPLATES[:8]) and held == set(P2D_TEMPLATES[8:10])


def test_bad_template_counts_are_one_line_errors():
    cfg = compose_config("reversal_curse", ["scale=cpu", "data.train_templates=10"])
    with pytest.raises(UserError, match="train_templates"):
        synthetic_sets(cfg)


def test_released_loader_reads_the_authors_files_and_their_people(tmp_path):
    subsets = write_released(tmp_path)
    sets = released_sets(tmp_path)
    assert set(AUTHORS_SEVEN) <= set(sets) and set(AUTHORS_SEVEN) <= set(RELEASED_TEST_FILES)
    assert "validation_prompts" in sets and sets["validation_prompts"][0].completion == "Daphne"
    # the candidates are the subset's people, not the training file's distinct completions
    d2p = people(sets, "d2p")
    assert d2p == sorted(subsets["d2p"])
    assert len({ex.completion for ex in sets["d2p_prompts_train"]}) == 3 * len(d2p)
    assert [gold_name(ex, d2p) for ex in sets["d2p_prompts_train"]] == [
        n for n in subsets["d2p"] for _ in D2P_TRAIN
    ]
    assert people(sets, "p2d") == sorted(subsets["p2d"])
    with pytest.raises(UserError, match="no people for subset 'both'"):
        people(sets, "both")
    with pytest.raises(UserError, match="names none of the subset's people"):
        gold_name(sets["p2d_prompts_test"][0], d2p)


def test_synthetic_randomized_sets_keep_prompts_and_swap_people(sets):
    for d in ("p2d", "d2p"):
        plain, rand = (
            sets[f"{d}_reverse_prompts_test"],
            sets[f"{d}_reverse_prompts_test_randomized"],
        )
        assert [ex.prompt for ex in rand] == [ex.prompt for ex in plain]
        assert all(r.completion != p.completion for r, p in zip(rand, plain, strict=True))
        assert {r.completion for r in rand} <= {p.completion for p in plain}
    assert len(people(sets, "p2d")) == len(people(sets, "both")) == 30


def test_loader_errors_name_file_and_line(tmp_path):
    with pytest.raises(UserError, match="not a directory"):
        released_sets(tmp_path / "absent")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": " b"}\n{"prompt": "a"\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: malformed JSON"):
        read_jsonl(bad)
    bad.write_text('{"prompt": "a", "completion": 3}\n')
    with pytest.raises(UserError, match="bad.jsonl:1: needs string fields"):
        read_jsonl(bad)
    (tmp_path / TRAIN_FILE).write_text('{"prompt": "a", "completion": " b"}\n')
    with pytest.raises(UserError, match="no test files"):
        released_sets(tmp_path)


def test_data_stage_reads_released_files_from_run_data_dir(tmp_path):
    from papers.reversal_curse.data import main

    released = tmp_path / "released"
    released.mkdir()
    write_released(released)
    out = tmp_path / "out"
    main(["scale=paper", f"run.data_dir={released}", f"run.out_dir={out}"])
    assert set(load_sets(out)) == {TRAIN, *RELEASED_TEST_FILES}
