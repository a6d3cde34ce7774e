"""Template mining for aiops: masking, per-service learning, lookup, parameters and the store.

Example::

    >>> from aiops.templating import Observation, learn, mask
    >>> model = learn("svc", [Observation(mask("took 3 ms"), 1, 0, 0, "took 3 ms")])
    >>> model.match("took 12 ms")[1:]
    ('took <*> ms', ['12'])
"""

from aiops.templating.learner import (
    Observation,
    StoredTemplate,
    TemplateConfig,
    TemplateInfo,
    learn,
    template_id,
    update_store,
)
from aiops.templating.masking import MASKS, mask, mask_array
from aiops.templating.model import ServiceModel

__all__ = [
    "MASKS",
    "Observation",
    "ServiceModel",
    "StoredTemplate",
    "TemplateConfig",
    "TemplateInfo",
    "learn",
    "mask",
    "mask_array",
    "template_id",
    "update_store",
]
