"""Imported by the chunk pool's fork server: load the annotators before any worker forks.

``flows.pool.ChunkPool`` starts the server with the run's annotate settings in
``AKHBAR_PRELOAD_ANNOTATE``; the workers forked from it then share these pages (issue
21). A failure here is left to the workers, whose initializer loads again and fails
their chunks with the reason, so it is not raised (it would kill the server).
"""

import json
import os

from flows.pool import PRELOAD_ENV
from flows.stages import load_annotators
from tasks.config import AnnotateConfig


def _preload() -> None:
    raw = os.environ.get(PRELOAD_ENV)
    if not raw:
        return
    try:
        load_annotators(AnnotateConfig(**json.loads(raw)))
    except Exception:  # noqa: BLE001 - the workers report it (see the module docstring)
        return
    import gc

    # Out of the collector's generations: a collection in a worker would otherwise write
    # to every object's header and copy all of these pages into each worker.
    gc.freeze()


_preload()
