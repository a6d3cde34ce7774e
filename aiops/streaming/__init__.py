"""The streaming job's pure parts: records, window bookkeeping, live scoring, the local watch feed."""
