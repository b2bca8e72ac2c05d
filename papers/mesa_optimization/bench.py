"""Benchmark one paper-scale run's pieces (a measurement, not a test).

python -m papers.mesa_optimization.bench [--epochs 20] [--threads 1] [overrides ...]
Builds the data of one run (default: scale=paper experiment=gauss_s1 init=large, i.e. d = 5,
T = 100, m = 10,000 train + 10,000 test, float64), then prints the data-building time, the
compile time of the training step, seconds per epoch (training step only), seconds per pass
over the test set, and the process's peak resident memory (getrusage maxrss).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

from common.cli import one_line_errors
from common.config import compose_config
from common.threads import set_threads

DEFAULT = ("scale=paper", "experiment=gauss_s1", "init=large")


def _seconds(fn, repeats: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def bench(overrides: list[str], epochs: int) -> dict[str, float]:
    """Timings (s) and peak memory (MB) of one run's data, training step and test pass."""
    import numpy as np

    from papers.mesa_optimization import fused
    from papers.mesa_optimization.model import init_weights, split_complex
    from papers.mesa_optimization.train import effective_schedule, load_sequences, make_step

    cfg = compose_config("mesa_optimization", list(overrides))
    dtype = np.dtype(cfg.train.dtype)
    start = time.perf_counter()
    train_x, test_x = (fused.planar(x, dtype) for x in load_sequences(cfg))
    data_s = time.perf_counter() - start
    step = make_step(effective_schedule(cfg)[0])
    ic = cfg.init
    init = split_complex(*init_weights(cfg.data.d, ic.kind, ic.a0, ic.b0, ic.std, 0), dtype)
    state = {"p": {k: np.asarray(v) for k, v in init.items()}}

    def one_step():
        state["p"], _ = step(state["p"], train_x)

    def test():
        fused.test_stats(state["p"], test_x)

    compile_s = _seconds(one_step) + _seconds(test)
    return {
        "data_s": data_s,
        "compile_and_first_s": compile_s,
        "epoch_s": _seconds(one_step, epochs),
        "test_pass_s": _seconds(test, max(1, epochs // 5)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "m_train": cfg.data.m_train,
        "m_test": cfg.data.m_test,
        "T": cfg.data.T,
        "d": cfg.data.d,
    }


@one_line_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="training steps timed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", default=list(DEFAULT))
    args = parser.parse_args(argv)
    if args.epochs < 1:
        raise ValueError("--epochs must be >= 1")
    set_threads(args.threads)
    out = bench(args.overrides, args.epochs)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} thread(s), load {load}")
    for key, value in out.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
