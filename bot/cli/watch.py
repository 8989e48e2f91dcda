"""`citebot index watch DIR`: keep the index in step with a folder.

Events are debounced (editors write files in several steps) and each burst
triggers one sync of the whole folder: unchanged files cost a read and a
hash, changed ones are re-embedded, deleted ones are removed. Re-syncing the
folder (rather than single files) keeps article ids folder-relative.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from citebot.index import IngestReport, Library

DEBOUNCE_SECONDS = 1.0


def watch_folder(
    lib: Library,
    folder: Path,
    on_report: Callable[[IngestReport], None],
    stop: threading.Event | None = None,
) -> None:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    stop = stop or threading.Event()
    dirty = threading.Event()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("created", "modified", "deleted", "moved"):
                dirty.set()

    observer = Observer()
    observer.schedule(Handler(), str(folder), recursive=True)
    observer.start()
    try:
        on_report(lib.sync_folder(folder))
        while not stop.is_set():
            if dirty.wait(0.2):
                time.sleep(DEBOUNCE_SECONDS)
                dirty.clear()
                report = lib.sync_folder(folder)
                if report.changed or report.skipped:
                    on_report(report)
    finally:
        observer.stop()
        observer.join(timeout=5)
