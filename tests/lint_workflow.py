"""Count `snakemake --lint` messages at every scale and fail above a budget.

python -m tests.lint_workflow --max 10      # `make lint-workflow`
"""

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_messages(scale: str) -> list[str]:
    """The linter's messages ("<what it is about>: <title>") for the DAG at ``scale``.

    The text output is parsed: this Snakemake's ``--lint json`` prints text too.
    """
    proc = subprocess.run(
        [Path(sys.executable).parent / "snakemake", "--lint", "--config", f"scale={scale}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    messages, about = [], None
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith("Lints for "):
            about = line.removeprefix("Lints for ").split(" (line")[0].rstrip(":")
        elif line.startswith("    * ") and about:
            messages.append(f"{about}: {line.removeprefix('    * ').rstrip(':')}")
    if proc.returncode not in (0, 1) or (proc.returncode and not messages):
        raise SystemExit(f"snakemake --lint failed: {(proc.stderr or proc.stdout)[-500:]}")
    return messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=10)
    args = parser.parse_args()
    messages = sorted({m for scale in ("smoke", "cpu", "paper") for m in lint_messages(scale)})
    print("\n".join(messages) or "no lint messages")
    print(f"{len(messages)} snakemake --lint messages (budget {args.max})")
    if len(messages) > args.max:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
