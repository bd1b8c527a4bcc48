"""Carrying a linear model on (``workflow/finetune.py``), checked against the closed form it claims to compute."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from trainwright.workflow.finetune import continue_linear


def test_ridge_is_pulled_towards_its_old_coefficients_exactly() -> None:
    rng = np.random.default_rng(0)
    X_old, X_new = rng.normal(size=(60, 4)), rng.normal(size=(40, 4)) + 0.5
    w = np.array([1.0, -2.0, 0.5, 0.0])
    old = Ridge(alpha=3.0).fit(X_old, X_old @ w + 1.0 + rng.normal(scale=0.1, size=60))
    y_new = X_new @ (w + 0.3) + 2.0
    new, method, _ = continue_linear(old, X_new, y_new)
    # argmin |y - X(w0 + d) - b|^2 + alpha |d|^2, intercept unpenalised: centre, solve the normal equations
    residual = y_new - old.predict(X_new)
    Xc, rc = X_new - X_new.mean(axis=0), residual - residual.mean()
    d = np.linalg.solve(Xc.T @ Xc + 3.0 * np.eye(4), Xc.T @ rc)
    np.testing.assert_allclose(new.coef_, old.coef_ + d, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(new.intercept_, old.intercept_ + residual.mean() - X_new.mean(axis=0) @ d, atol=1e-9)
    assert "towards the saved coefficients" in method and old.coef_ is not new.coef_


def test_a_logistic_regression_is_warm_started_from_its_coefficients() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int)
    old = LogisticRegression(max_iter=200).fit(X, y)
    new, method, _ = continue_linear(old, X + 0.1, y)
    assert new.warm_start and not old.warm_start and "warm start" in method
    reference = LogisticRegression(max_iter=200).fit(X + 0.1, y)  # convex: the same optimum, from the old start
    np.testing.assert_allclose(new.coef_, reference.coef_, atol=1e-2)  # within the solver's tolerance
