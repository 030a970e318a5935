"""Classical methods, written as scikit-learn estimators."""
