"""Evaluation: the official WIDER FACE protocol (easy / medium / hard AP) and PR curves."""

from featherface.evaluation.predictions import read_prediction_dir, write_predictions
from featherface.evaluation.wider_gt import load_wider_ground_truth
from featherface.evaluation.widerface import evaluate, evaluate_prediction_dir

__all__ = ["evaluate", "evaluate_prediction_dir", "load_wider_ground_truth", "read_prediction_dir", "write_predictions"]
