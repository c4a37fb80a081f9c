"""Evaluation: the published metrics, the benchmark runner and the sensor-failure protocols.

>>> from sdstrack.evaluation import SensorFailure, evaluate                       # doctest: +SKIP
>>> report = evaluate("weights/sdstrack-rgbd", "depthtrack", "DepthTrack/test", "runs/x-dropped",
...                   failure=SensorFailure(drop="x", drop_rate=0.5, seed=0))    # doctest: +SKIP
>>> report.scores["overall"]["f_score"]                                          # doctest: +SKIP
"""

from .protocols import SensorFailure, write_degraded_benchmark
from .runner import EvaluationError, EvaluationReport, evaluate, merge, score_raw_results, track_sequence

__all__ = ["EvaluationError", "EvaluationReport", "SensorFailure", "evaluate", "merge", "score_raw_results",
           "track_sequence", "write_degraded_benchmark"]
