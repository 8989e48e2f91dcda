"""citebot core: ingest, chunk, embed, store, retrieve and answer with citations.

Import ``Library`` from ``index.library``; this package keeps its own import
light so front ends start fast.
"""

from citebot.index.errors import CitebotError
from citebot.index.models import Answer, ArticleInfo, Citation, IndexStatus, IngestReport, Turn
from citebot.index.settings import Settings

__all__ = [
    "Answer",
    "ArticleInfo",
    "Citation",
    "CitebotError",
    "IndexStatus",
    "IngestReport",
    "Settings",
    "Turn",
]
