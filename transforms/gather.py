"""Gather: every element of a PCollection as one list, in one shuffle.

``beam.combiners.ToList()`` does the same through CombineGlobally, which expands into about
eight transforms and three runner stages (and a default for an empty input); the batch job
gathers small collections (file lists, staged paths, models, partials tables) several times,
and each stage costs the local runner 10-40 ms. Gather is one GroupByKey on a constant key:
an empty input gives no list at all (use a side-input default where that matters).

Example::

    units = files | "CollectFiles" >> Gather()   # one element: [file, file, ...]
"""

from __future__ import annotations

import apache_beam as beam


class Gather(beam.PTransform):
    """PCollection[T] -> PCollection[list[T]] with one element (none when the input is empty)."""

    def expand(self, items):
        return (
            items
            | "Key" >> beam.Map(lambda item: (0, item))
            | "Group" >> beam.GroupByKey()
            | "Values" >> beam.Map(lambda kv: list(kv[1]))
        )
