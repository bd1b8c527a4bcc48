"""IoU and Dice against scikit-learn; COCO mAP on hand-worked cases (pycocotools computes it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score

from trainwright.evaluation.dense_metrics import (
    ImageBoxes,
    box_iou,
    confusion_matrix,
    detection_scores,
    segmentation_scores,
)
from trainwright.models._dense_base import mean_object_iou


def test_iou_and_dice_match_scikit_learn():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, size=(3, 20, 20))
    pred = np.where(rng.random(true.shape) < 0.7, true, rng.integers(0, 4, size=true.shape))
    scores = segmentation_scores(confusion_matrix(true, pred, 4), ["bg", "a", "b", "c"])
    assert np.allclose(scores.iou, jaccard_score(true.ravel(), pred.ravel(), average=None))
    assert np.allclose(scores.dice, f1_score(true.ravel(), pred.ravel(), average=None))
    assert scores.mean_iou == pytest.approx(np.mean(scores.iou[1:]))
    assert mean_object_iou(true, pred, 4) == pytest.approx(scores.mean_iou)


def test_hand_worked_iou():
    true = np.array([[0, 1, 1, 0]])
    pred = np.array([[0, 1, 0, 0]])  # class 1: TP 1, FN 1 -> IoU 1/2, Dice 2/3
    scores = segmentation_scores(confusion_matrix(true, pred, 3), ["bg", "a", "b"])
    assert scores.iou[1] == pytest.approx(0.5) and scores.dice[1] == pytest.approx(2 / 3)
    assert math.isnan(scores.iou[2]) and scores.mean_iou == pytest.approx(0.5)  # absent class: not in the mean


def _boxes(boxes, labels, scores=None):
    return ImageBoxes(np.asarray(boxes, float).reshape(-1, 4), np.asarray(labels, int),
                      None if scores is None else np.asarray(scores, float))


def test_map_hand_worked_cases():
    truth = [_boxes([[0, 0, 10, 10]], [0])]
    sizes = [(50, 50)]
    exact = detection_scores(truth, [_boxes([[0, 0, 10, 10]], [0], [0.9])], sizes, ["a"])
    assert exact.map50 == pytest.approx(1.0) and exact.map50_95 == pytest.approx(1.0)
    # IoU 0.62: a hit at thresholds 0.50, 0.55, 0.60 of the ten -> mAP@0.5:0.95 = 3/10
    partial = detection_scores(truth, [_boxes([[0, 0, 10, 6.2]], [0], [0.9])], sizes, ["a"])
    assert partial.map50 == pytest.approx(1.0) and partial.map50_95 == pytest.approx(0.3)
    # a false positive ranked above the hit: precision 1/2 at recall 1 -> AP 0.5; ranked below: AP 1
    above = detection_scores(truth, [_boxes([[30, 30, 10, 10], [0, 0, 10, 10]], [0, 0], [0.95, 0.9])], sizes, ["a"])
    below = detection_scores(truth, [_boxes([[30, 30, 10, 10], [0, 0, 10, 10]], [0, 0], [0.5, 0.9])], sizes, ["a"])
    assert above.map50 == pytest.approx(0.5) and below.map50 == pytest.approx(1.0)
    # the wrong class is no hit: class a has AP 0, class b has no truth (left out of the mean)
    wrong = detection_scores(truth, [_boxes([[0, 0, 10, 10]], [1], [0.9])], sizes, ["a", "b"])
    assert wrong.map50 == pytest.approx(0.0) and math.isnan(wrong.ap50_per_class[1])
    nothing = detection_scores(truth, [ImageBoxes.empty()], sizes, ["a"])
    assert nothing.map50 == 0.0


def test_box_iou_hand_worked():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]]))
    assert np.allclose(iou, [[50 / 150, 0.0, 1.0]])
