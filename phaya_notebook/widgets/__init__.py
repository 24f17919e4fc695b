"""ipywidgets UIs: the studio, the compare grid and the chat box (standard widgets only).

Stable CSS classes, for browser tests and custom styling:

==========================  =====================================================
``phaya-studio``            the studio (``Studio``)
``phaya-prompt``            the prompt box (studio, compare grid, chat input)
``phaya-model``             the model picker (studio Dropdown, compare SelectMultiple,
                            chat Dropdown)
``phaya-cost``              the live price label (``phaya-cost-warning`` is added when the
                            price exceeds the balance or the session budget)
``phaya-generate``          the Generate / Compare… / Send button
``phaya-confirm``           Confirm button of the confirm step (``phaya-confirm-cancel``;
                            the whole bar is ``phaya-confirm-box``, see ``confirm.py``)
``phaya-jobcard``           one job's card (progress, status, cancel, then its result)
``phaya-progress``          a card's progress bar
``phaya-cancel``            a card's Cancel button (services that can cancel)
``phaya-gallery``           the studio's finished jobs, newest first
``phaya-result``            added to a card once its job is finished
``phaya-error``             where a task's exception is shown
``phaya-compare``           the compare grid widget
``phaya-compare-cell``      one prompt × model cell of the grid
``phaya-history``           the history gallery (``Gallery``; ``phaya-history-card`` per job,
                            ``phaya-remix`` its Remix button, ``phaya-page`` the page label)
``phaya-rating``            👍 / 👎 of a finished result (``phaya-rate-up``, ``phaya-rate-down``;
                            ``phaya-rated`` on the chosen one); only with a job log
``phaya-chat``              the chat box (``phaya-chat-reply`` on each streamed reply)
``phaya-chat-prices``       the studio's footer: chat and embedding prices per million tokens
==========================  =====================================================

Work runs as asyncio tasks on the kernel's running loop (see ``tasks.py``); clicks return
at once.
"""

from __future__ import annotations

from .chat import ChatBox
from .compare_grid import CompareGrid
from .controls import ParamControls, model_options
from .gallery import Gallery
from .jobcard import JobCard
from .studio import Studio

__all__ = ["ChatBox", "CompareGrid", "Gallery", "JobCard", "ParamControls", "Studio", "model_options"]
