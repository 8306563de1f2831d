"""The console's cycle collector, kept off what lives as long as a screen.

Python's cycle collector walks every tracked object on a full collection. With Textual's
widgets, styles and caches that is over 100,000 objects in the console, and a full collection
came every few seconds while a run was drawn, each a pause of over 100 ms of CPU (several times
that on a busy machine) in which no key is answered. Nearly all of those objects live as long as
the screen they belong to, so once a screen is built they are frozen (`gc.freeze`): collections
then walk only what was made since. Each new run unfreezes first, so what the previous run left
behind is collected.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect garbage, then keep every object alive now out of later collections."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
