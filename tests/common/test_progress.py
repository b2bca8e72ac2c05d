"""Progress lines reach the log without a terminal, at most every interval, with an ETA."""

import logging

from common.progress import Progress, progress


def test_progress_logs_first_and_last_and_throttles(caplog):
    with caplog.at_level(logging.INFO, logger="progress"):
        bar = Progress(total=100, desc="train", every_s=3600)
        for step in range(1, 101):
            bar.update(step, loss=1.0 / step)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # the first update, then the last step
    assert lines[0].startswith("train 1/100 loss 1 elapsed")
    assert lines[-1].startswith("train 100/100 loss 0.01 elapsed") and "ETA 0:00:00" in lines[-1]


def test_progress_every_zero_logs_every_step_and_counts_from_initial(caplog):
    with caplog.at_level(logging.INFO, logger="progress"):
        items = list(progress(range(3), desc="eval", total=5, initial=2))
    assert items == [0, 1, 2]
    assert caplog.records[0].getMessage().startswith("eval 2/5")
    assert caplog.records[-1].getMessage().startswith("eval 5/5")
