"""Anomaly detection: window scorers (frequency, new_template, silence, content) and sessions (sequence)."""
