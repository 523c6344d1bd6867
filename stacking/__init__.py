"""Level-1 stacking on out-of-fold predictions (numpy/scikit-learn/lightgbm/optuna; no torch)."""
