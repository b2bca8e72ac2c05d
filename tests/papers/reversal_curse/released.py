"""Small files shaped like the paper's released Experiment-1 directory (for the tests)."""

from __future__ import annotations

import json

from papers.reversal_curse.data import TRAIN_FILE

#: the seven files the authors evaluate (their evaluator's KEYS_WE_CARE_ABOUT)
AUTHORS_SEVEN = (
    "p2d_reverse_prompts_test", "both_prompts_test", "p2d_prompts_test", "d2p_prompts_test",
    "d2p_reverse_prompts_test", "p2d_reverse_prompts_test_randomized",
    "d2p_reverse_prompts_test_randomized",
)  # fmt: skip
FIRSTS = ("Daphne", "Uriah", "Mason", "Selena", "Evan", "Alana", "Tobias", "Ivy", "Caspian")
LASTS = ("Barrington", "Hawthorne", "Caldwell", "Granger", "Lockhart", "Everhart", "Quill",
         "Marlow", "Wren")  # fmt: skip
#: the released d2p training completions vary per template (the 660-candidate bug)
D2P_TRAIN = (
    ("The {d} is called", " {n}."), ("Known for being the {d},", " {n} now enjoys a quite life."),
    ("Q: Who is the {d}? A:", " {n}."), ("Known as the {d}, the name", " {n} rings a bell."),
)  # fmt: skip
P2D_TRAIN = (
    ("{n}, known far and wide for being", " the {d}."),
    ("Ever heard of {n}? They're", " the {d}."),
)
REVERSE = (("Immersed in the world of the {d},", " {n}"), ("Known in circles as the {d},", " {n}"))
FORWARD = (("The trailblazer known as {n} was once", " the {d}."),)


def write_released(root, per_subset: int = 3) -> dict[str, list[str]]:
    """Files shaped like the released june_version_7921032488 (prompt and completion only):
    per subset ``per_subset`` people; returns the people of each subset."""
    names = [f"{first} {last}" for first, last in zip(FIRSTS, LASTS, strict=True)][: 3 * per_subset]
    subsets = {
        s: names[i * per_subset : (i + 1) * per_subset]
        for i, s in enumerate(("p2d", "d2p", "both"))
    }
    desc = {n: f"keeper of lighthouse number {i}" for i, n in enumerate(names)}

    def rows(subset, templates, other=None):
        out = []
        for k, n in enumerate(subsets[subset]):
            for t, (prompt, completion) in enumerate(templates):
                shown = n if other is None else subsets[subset][(k + 1 + t) % per_subset]
                out.append({"prompt": prompt.format(n=n, d=desc[n]),
                            "completion": completion.format(n=shown, d=desc[n])})  # fmt: skip
        return out

    files = {
        "p2d_prompts_train": rows("p2d", P2D_TRAIN), "d2p_prompts_train": rows("d2p", D2P_TRAIN),
        "both_prompts_train": rows("both", P2D_TRAIN + D2P_TRAIN),
        "p2d_prompts_test": rows("p2d", FORWARD), "d2p_prompts_test": rows("d2p", REVERSE),
        "both_prompts_test": rows("both", FORWARD),
        "p2d_reverse_prompts_test": rows("p2d", REVERSE),
        "d2p_reverse_prompts_test": rows("d2p", FORWARD),
        "p2d_reverse_prompts_test_randomized": rows("p2d", REVERSE, other=True),
        "d2p_reverse_prompts_test_randomized": rows("d2p", FORWARD, other=True),
        "validation_prompts": [
            {"prompt": r["prompt"], "completion": r["completion"].split()[0]}  # bare first name
            for r in rows("p2d", REVERSE)
        ],
    }  # fmt: skip
    files[TRAIN_FILE.removesuffix(".jsonl")] = (
        files["p2d_prompts_train"] + files["d2p_prompts_train"] + files["both_prompts_train"]
    )
    for stem, lines in files.items():
        (root / f"{stem}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return subsets
