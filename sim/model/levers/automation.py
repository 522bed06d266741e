"""Automation levers (``automation``): hash matching, assisted grading, faster scans.

From the block's start day the pipeline's grading and lab settings change: the
known-image share (applied to each device when its grading starts, so devices already
waiting benefit too), a per-image time that mixes the classifier-assisted and the
manual rate by the equipped share of graders, and the lab's hours per terabyte. The
stages keep calling their own service-time samplers, so the random numbers stay common
with the scenario without automation. Nothing is changed when the block is absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.config.workforce import Automation
from sim.model.levers.workforce import start_day

if TYPE_CHECKING:  # pragma: no cover
    from sim.model.pipeline import Pipeline


def grading_hours_per_image(manual_per_hour: float | None, cfg: Automation) -> float:
    """Staff hours per unknown image with the equipped share using the classifier.

    Parameters
    ----------
    manual_per_hour : float or None
        ``stages.image_grading.images_per_hour`` (None: no per-image work).
    cfg : Automation
        The automation block.

    Returns
    -------
    float
        Hours per image: ``share / assisted + (1 - share) / manual``.
    """
    if manual_per_hour is None:
        return 0.0
    manual = 1.0 / manual_per_hour
    if cfg.assisted_images_per_hour is None:
        return manual
    share = cfg.assisted_grader_share
    return share / cfg.assisted_images_per_hour + (1.0 - share) * manual


class AutomationLever:
    """The ``automation`` block as a lever: applied at its start day.

    Parameters
    ----------
    cfg : Automation
        The scenario's automation block.
    """

    def __init__(self, cfg: Automation):
        self.cfg = cfg

    def install(self, pipeline: Pipeline) -> None:
        """Apply the block now, or schedule it for its start day."""
        cfg = self.cfg
        day = start_day(pipeline.scenario, cfg.start_day, cfg.start_date)
        if day <= 0:
            _apply(pipeline, cfg)
        else:
            pipeline.env.timeout(day).callbacks.append(lambda _ev: _apply(pipeline, cfg))


def _apply(pipeline: Pipeline, cfg: Automation) -> None:
    if cfg.known_image_share is not None:
        pipeline.set_known_share_level(cfg.known_image_share)
    if cfg.assisted_images_per_hour is not None:
        manual = pipeline.scenario.stages.image_grading.images_per_hour
        pipeline.set_grading_hours_per_image(grading_hours_per_image(manual, cfg))
    if cfg.lab_hours_per_tb is not None:
        pipeline.set_lab_hours_per_tb(cfg.lab_hours_per_tb)
