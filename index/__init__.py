"""citebot core: ingest, chunk, embed, store, retrieve and answer with citations.

Import ``Library`` from ``index.library``; this package keeps its own import
light so front ends start fast.
"""

from index.errors import CitebotError
from index.models import Answer, ArticleInfo, Citation, IndexStatus, IngestReport, Turn
from index.settings import Settings

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
