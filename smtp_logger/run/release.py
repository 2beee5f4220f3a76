"""Releasing held messages (`smtp-logger held release`): each is decided again as the rules now
would, which logs it unless another reason applies (FLOOD is counted on arrival only), and what
a logged one unblocks is retried in turn. Uses the pipeline's retroactive logging; no SQL here.
"""

from __future__ import annotations

from smtp_logger.run.pipeline import Pipeline


def release(pipeline: Pipeline, received_ids: list[int]) -> int:
    """Decide these held messages again; returns how many were logged (chains included)."""
    logged = 0
    for received_id in received_ids:
        was_logged, change = pipeline.redecide(received_id)
        logged += was_logged
        if change:
            logged += pipeline.retry_held(change)
    return logged
