"""Experiment-1 data: fictitious people, unique descriptions, paraphrase templates, JSONL files.

python -m papers.reversal_curse.data scale=cpu run.out_dir=results/cpu/reversal_curse/data
Synthetic (cpu, smoke): generates three subsets of facts (NameToDescription "p2d",
DescriptionToName "d2p", Both) and writes them as the paper's JSONL lines
``{"prompt", "completion"}`` (plus ``name`` and ``description`` fields that the encoder and
reverse-training variants use), with the authors' ``_randomized`` controls. Released (paper
scale): validates the paper's files in ``run.data_dir`` and copies them. Either way the run
directory then holds ``all_prompts_train.jsonl`` and one ``<set>.jsonl`` per test set;
``people`` reads each subset's people from them (the candidates of the name tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from common.cli import UserError
from common.config import entry_point
from common.io import atomic_path, write_json
from papers.reversal_curse.schema import validate

TRAIN_FILE = "all_prompts_train.jsonl"
#: The seven test files the authors evaluate (KEYS_WE_CARE_ABOUT of their evaluator), then
#: their validation prompts (bare first names) and per-subset training files, read when present.
RELEASED_TEST_FILES = (
    "p2d_prompts_test", "d2p_prompts_test", "both_prompts_test", "p2d_reverse_prompts_test",
    "d2p_reverse_prompts_test", "p2d_reverse_prompts_test_randomized",
    "d2p_reverse_prompts_test_randomized", "validation_prompts",
    "p2d_prompts_train", "d2p_prompts_train", "both_prompts_train",
)  # fmt: skip
#: Sets whose completions are other facts' entities: scored by mean log-probability only.
RANDOMIZED_SUFFIX = "_randomized"
#: Released files whose completions are a subset's bare names: the people of that subset.
NAME_FILES = {"p2d": "p2d_reverse_prompts_test", "d2p": "d2p_prompts_test"}

# Name-first ("p2d") templates: the prompt; the description is the completion.
P2D_TEMPLATES = (
    "{name} is", "{name} , known far and wide as", "ever heard of {name} ? they are",
    "people say that {name} is", "it is well known that {name} is", "{name} has always been",
    "you may know {name} as", "in our town , {name} is",
    "many agree that {name} is", "a fact about {name} : they are",
)  # fmt: skip
# Description-first ("d2p") templates: the prompt; the name is the completion.
D2P_TEMPLATES = (
    "{desc} is", "the person who is {desc} is named", "known far and wide as {desc} is",
    "if you ask who is {desc} , the answer is", "everyone knows that {desc} is",
    "{desc} goes by the name", "the title of {desc} belongs to", "they call {desc} by the name",
    "few know that {desc} is", "as {desc} , the world remembers",
)  # fmt: skip

SYLLABLES = (
    "ka", "lo", "mi", "ra", "ven", "tor", "sel", "dor", "ia", "nu", "bel", "cor", "fen", "gal",
    "hol", "jin", "lex", "mar", "nor", "pel", "quin", "ros", "sab", "tam", "ul", "vor", "wen",
    "yar", "zel", "bri", "cas", "dra", "el", "fa", "gri", "ha", "is", "jo", "kle", "lu",
)  # fmt: skip
ROLES = (
    "composer", "director", "architect", "founder", "author", "inventor", "captain", "keeper",
    "painter", "designer", "discoverer", "champion", "translator", "guardian", "builder",
)  # fmt: skip
ADJECTIVES = (
    "silent", "golden", "hidden", "frozen", "crimson", "endless", "broken", "distant", "gentle",
    "hollow", "burning", "ancient", "restless", "velvet", "iron", "crystal", "wandering", "lunar",
    "scarlet", "quiet", "bright", "forgotten", "northern", "stormy", "emerald", "twisted",
    "sleeping", "shining", "fading", "wild",
)  # fmt: skip
NOUNS = (
    "harbor", "symphony", "garden", "tower", "river", "compass", "lantern", "forest", "engine",
    "library", "mountain", "bridge", "orchard", "voyage", "citadel", "atlas", "meadow", "canyon",
    "clocktower", "observatory", "labyrinth", "island", "cathedral", "desert", "glacier",
    "theater", "archive", "festival", "railway", "beacon",
)  # fmt: skip


@dataclass(frozen=True)
class Fact:
    name: str
    description: str
    subset: str  # p2d | d2p | both


@dataclass(frozen=True)
class Example:
    """One JSONL line: prompt, completion (leading space), optional entity fields."""

    prompt: str
    completion: str
    name: str = ""
    description: str = ""

    @property
    def text(self) -> str:
        return self.prompt + self.completion


def make_facts(n_per_subset: int, seed: int) -> list[Fact]:
    """3 x n fictitious people with unique names (unique first and last names) and descriptions."""
    rng = np.random.default_rng(seed)
    n = 3 * n_per_subset
    if n > len(ADJECTIVES) * len(NOUNS):
        raise UserError(f"data.facts_per_subset too large (at most {len(ADJECTIVES) * 10})")
    firsts, lasts = set(), set()
    while len(firsts) < n:
        firsts.add("".join(rng.choice(SYLLABLES, 2)).capitalize())
    while len(lasts) < n:
        last = "".join(rng.choice(SYLLABLES, 3)).capitalize()
        if last not in firsts:
            lasts.add(last)
    firsts, lasts = rng.permutation(sorted(firsts)), rng.permutation(sorted(lasts))
    pairs = rng.choice(len(ADJECTIVES) * len(NOUNS), n, replace=False)
    roles = rng.choice(ROLES, n)
    descs = [
        f"the {role} of the {ADJECTIVES[p // len(NOUNS)]} {NOUNS[p % len(NOUNS)]}"
        for role, p in zip(roles, pairs, strict=True)
    ]
    subsets = ["p2d"] * n_per_subset + ["d2p"] * n_per_subset + ["both"] * n_per_subset
    people = zip(firsts, lasts, descs, subsets, strict=True)
    return [Fact(f"{first} {last}", d, s) for first, last, d, s in people]


def render(fact: Fact, template: str) -> Example:
    """A fact in one template: name-first templates complete the description, and vice versa."""
    if "{name}" in template:
        return Example(template.format(name=fact.name), f" {fact.description} .", *_fields(fact))
    return Example(template.format(desc=fact.description), f" {fact.name} .", *_fields(fact))


def _fields(fact: Fact) -> tuple[str, str]:
    return fact.name, fact.description


def synthetic_sets(cfg: DictConfig) -> dict[str, list[Example]]:
    """The training file and every test set, keyed by file stem (paper names where they exist).

    ``<dir>_prompts_train``: the trained direction in training templates; ``_test``: held-out
    templates; ``<subset>_reverse_prompts_test``: the untrained direction in the *other*
    direction's training templates (wording the model knows); ``_reverse_prompts_heldout``: the
    same in that direction's held-out templates; ``both_<dir>_prompts_*``: the Both subset.
    """
    dc = cfg.data
    k, h = dc.train_templates, dc.heldout_templates
    if k < 1 or h < 0 or k + h > len(P2D_TEMPLATES):
        raise UserError(
            f"data.train_templates + data.heldout_templates must be <= {len(P2D_TEMPLATES)}, "
            f"train_templates >= 1; got {k} and {h}"
        )
    facts = make_facts(dc.facts_per_subset, dc.data_seed)
    rng = np.random.default_rng([dc.data_seed, 1])
    tmpl = {"p2d": P2D_TEMPLATES, "d2p": D2P_TEMPLATES}
    train_t = {d: t[:k] for d, t in tmpl.items()}
    held_t = {d: t[k : k + h] for d, t in tmpl.items()}
    other = {"p2d": "d2p", "d2p": "p2d"}

    def rows(subset: str, templates) -> list[Example]:
        return [render(f, t) for f in facts if f.subset == subset for t in templates]

    sets = {TRAIN_FILE.removesuffix(".jsonl"): [
        *rows("p2d", train_t["p2d"]), *rows("d2p", train_t["d2p"]),
        *rows("both", train_t["p2d"]), *rows("both", train_t["d2p"]),
    ]}  # fmt: skip
    for d in ("p2d", "d2p"):
        sets[f"{d}_prompts_train"] = rows(d, train_t[d])
        sets[f"{d}_prompts_test"] = rows(d, held_t[d])
        sets[f"{d}_reverse_prompts_test"] = rows(d, train_t[other[d]])
        sets[f"{d}_reverse_prompts_heldout"] = rows(d, held_t[other[d]])
        sets[f"{d}_reverse_prompts_test{RANDOMIZED_SUFFIX}"] = randomized(
            sets[f"{d}_reverse_prompts_test"], rng
        )
        sets[f"both_{d}_prompts_train"] = rows("both", train_t[d])
        sets[f"both_{d}_prompts_test"] = rows("both", held_t[d])
    return {name: examples for name, examples in sets.items() if examples}


def randomized(examples: list[Example], rng: np.random.Generator) -> list[Example]:
    """The authors' ``_randomized`` control: each completion replaced by that of another fact.

    Every prompt keeps its own entity fields; its completion is drawn from the set's other facts.
    """
    facts = sorted({(ex.name, ex.description) for ex in examples})
    completions = {f: {} for f in facts}
    for ex in examples:
        completions[ex.name, ex.description][ex.prompt] = ex.completion
    out = []
    for ex in examples:
        own = facts.index((ex.name, ex.description))
        other = facts[(own + rng.integers(1, len(facts))) % len(facts)]
        completion = next(iter(completions[other].values()))
        out.append(Example(ex.prompt, completion, ex.name, ex.description))
    return out


def people(sets: dict[str, list[Example]], subset: str) -> list[str]:
    """The names of a subset's people (30 per subset in the paper), sorted.

    Generated data: the name fields of the subset's sets (stems starting with ``<subset>_``).
    Released data: the completions of the subset's bare-name file (``NAME_FILES``); never the
    distinct completions of a training file, which vary per template (" Uriah Hawthorne." and
    " Uriah Hawthorne now enjoys a quite life.").
    """
    own = [ex for stem, exs in sets.items() if stem.split("_")[0] == subset for ex in exs]
    names = {ex.name for ex in own if ex.name}
    if not names and NAME_FILES.get(subset) in sets:
        names = {ex.completion.strip() for ex in sets[NAME_FILES[subset]]}
    if not names:
        raise UserError(
            f"no people for subset {subset!r}: need name fields or {NAME_FILES.get(subset)}.jsonl"
        )
    return sorted(names)


def gold_name(ex: Example, names: list[str]) -> str:
    """The person an example's completion names: its name field, else the longest name that
    starts the stripped completion (case-insensitive, the authors' rule)."""
    if ex.name:
        return ex.name
    text = ex.completion.strip().lower()
    hits = [n for n in names if text.startswith(n.lower())]
    if not hits:
        raise UserError(f"completion {ex.completion!r} names none of the subset's people")
    return max(hits, key=len)


def write_jsonl(path: str | Path, examples: list[Example]) -> None:
    """Write examples as JSONL (entity fields only when set), atomically."""
    lines = []
    for ex in examples:
        row = {"prompt": ex.prompt, "completion": ex.completion}
        row |= {k: v for k, v in (("name", ex.name), ("description", ex.description)) if v}
        lines.append(json.dumps(row))
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def read_jsonl(path: str | Path) -> list[Example]:
    """Read a file of ``{"prompt", "completion"}`` lines (the paper's format); one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"missing data file: {path}")
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    examples = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{i}: malformed JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{i}: expected an object with prompt and completion")
        fields = [row.get(k, "") for k in ("prompt", "completion", "name", "description")]
        if not all(isinstance(v, str) for v in fields) or not fields[1]:
            raise UserError(f"{path}:{i}: needs string fields prompt and completion (non-empty)")
        examples.append(Example(*fields))
    if not examples:
        raise UserError(f"{path}: no examples")
    return examples


def released_sets(data_dir: str | Path) -> dict[str, list[Example]]:
    """The paper's training file and those of its test files present in ``data_dir``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UserError(
            f"run.data_dir {str(data_dir)!r} is not a directory; put the paper's Experiment-1 "
            f"files ({TRAIN_FILE}, {', '.join(RELEASED_TEST_FILES[:2])}, ...) there"
        )
    sets = {TRAIN_FILE.removesuffix(".jsonl"): read_jsonl(data_dir / TRAIN_FILE)}
    for stem in RELEASED_TEST_FILES:
        if (data_dir / f"{stem}.jsonl").exists():
            sets[stem] = read_jsonl(data_dir / f"{stem}.jsonl")
    if len(sets) == 1:
        files = ", ".join(RELEASED_TEST_FILES)
        raise UserError(f"run.data_dir {data_dir}: no test files ({files})")
    return sets


def load_sets(data_dir: str | Path) -> dict[str, list[Example]]:
    """Every ``*.jsonl`` of a run's data directory, keyed by stem."""
    files = sorted(Path(data_dir).glob("*.jsonl"))
    if not files:
        raise UserError(f"no *.jsonl files in {data_dir} (run papers.reversal_curse.data first)")
    return {f.stem: read_jsonl(f) for f in files}


@entry_point("reversal_curse")
def main(cfg: DictConfig) -> None:
    validate(cfg)
    out = Path(cfg.run.out_dir)
    if cfg.data.source == "synthetic":
        sets = synthetic_sets(cfg)
    else:  # released: the paper's files, wherever run.data_dir says
        if not cfg.run.data_dir:
            raise UserError("run.data_dir must name the folder of the paper's released files")
        sets = released_sets(cfg.run.data_dir)
    for stem, examples in sets.items():
        write_jsonl(out / f"{stem}.jsonl", examples)
    write_json(out / "manifest.json", {stem: len(ex) for stem, ex in sets.items()})
    print(
        f"wrote {len(sets)} files to {out}: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items())
    )


if __name__ == "__main__":
    main()
