"""Automation levers (``automation``): hash matching, assisted grading, faster scans.

From the block's start day the image-grading and lab work functions are replaced:
grading work uses the automated known-image share (applied to each device when its
grading starts, so devices already waiting benefit too) and a per-image time that
mixes the classifier-assisted and the manual rate by the equipped share of graders;
lab work uses the new hours per terabyte. Both keep calling the stage's own
service-time sampler, so the random numbers stay common with the scenario without
automation. Nothing is changed when the block is absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.config.workforce import Automation
from sim.model.workforce import start_day

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


def install_automation(pipeline: Pipeline) -> float | None:
    """Apply ``scenario.automation`` to ``pipeline`` now or at its start day.

    Returns
    -------
    float or None
        The start day, or None when the scenario has no automation block.
    """
    sc = pipeline.scenario
    cfg = sc.automation
    if cfg is None:
        return None
    day = start_day(sc, cfg.start_day, cfg.start_date)
    if day <= 0:
        _apply(pipeline, cfg)
    else:
        event = pipeline.env.timeout(day)
        event.callbacks.append(lambda _ev: _apply(pipeline, cfg))
    return day


def _apply(pipeline: Pipeline, cfg: Automation) -> None:
    sc = pipeline.scenario
    if cfg.known_image_share is not None or cfg.assisted_images_per_hour is not None:
        base = pipeline.grading_base_work
        per_image = grading_hours_per_image(sc.stages.image_grading.images_per_hour, cfg)
        known = cfg.known_image_share
        if known is not None:
            pipeline.known_share = known
            unknown_share = 1.0 - known

            def grading(d: Any) -> float:
                d.unknown_images = round(d.images * unknown_share)
                return base(d) + d.unknown_images * per_image
        else:
            def grading(d: Any) -> float:
                return base(d) + d.unknown_images * per_image

        pipeline.image_grading.work = grading
    if cfg.lab_hours_per_tb is not None:
        base_lab = pipeline.lab_base_work
        per_tb = cfg.lab_hours_per_tb
        pipeline.lab_examination.work = lambda d: base_lab(d) + d.data_tb * per_tb
