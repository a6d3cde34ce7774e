"""Accuracy harnesses: ``python -m aiops.eval.parsing --data ../shared/data/loghub-2k``."""
