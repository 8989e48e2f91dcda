"""Separate ``citebot`` processes writing to one real ``chroma run`` at the same time.

Each process has its own data dir, as bots on different machines would. Before
the writer lease, two concurrent adds of 20 articles each left 20 in the store
(each writer made its own build and flipped the active pointer), and the orphan
sweep of one writer deleted chunks the other had just written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from citebot.index.store.chroma_store import ChromaStore
from citebot.index.store.sentence_records import decode_sentences
from tests.conftest import CITEBOT, SettingsFactory, clean_env, run_cli

_WORDS = ("harbour", "orchard", "comet", "signals", "archive", "harvest", "ovens", "glacier")


def write_feed(path: Path, tag: str, count: int, sentences: int = 4) -> list[str]:
    """A JSONL feed of ``count`` articles; each names a unique token ``zq<tag><n>``."""
    ids, lines = [], []
    for n in range(count):
        token = f"zq{tag}{n}"
        body = " ".join(
            f"Report {i} on the {_WORDS[(n + i) % len(_WORDS)]} in case {token} "
            f"said {n * 7 + i} residents of district {i % 5} wanted a decision by Friday."
            for i in range(sentences)
        )
        article_id = f"{tag}-{n:03d}"
        ids.append(article_id)
        record = {"id": article_id, "title": f"Story {token} from feed {tag}", "text": body}
        lines.append(json.dumps(record))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def start_add(root: Path, name: str, feed: Path, url: str, prefix: str, **env: str) -> Any:
    """``citebot index add FEED --json`` in its own process and data dir."""
    return subprocess.Popen(
        [str(CITEBOT), "index", "add", str(feed), "--json"],
        cwd=root,
        env=clean_env(
            CITEBOT_DATA_DIR=str(root / f"data-{name}"),
            CITEBOT_CHROMA_URL=url,
            CITEBOT_COLLECTION_PREFIX=prefix,
            **env,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def incomplete_articles(store: ChromaStore, build: str) -> list[str]:
    """Ids of visible articles missing any chunk or sentence of their live version."""
    manifest = store.manifest(build)
    chunks: dict[tuple[str, str], int] = defaultdict(int)
    last_sentence: dict[tuple[str, str], int] = defaultdict(int)
    for _ids, metas, _docs in store.all_chunks(build):
        for meta in metas:
            key = (meta["article_key"], meta["version"])
            chunks[key] += 1
            last_sentence[key] = max(last_sentence[key], int(meta["last_sentence"]))
    sentences: dict[tuple[str, str], set[int]] = defaultdict(set)
    for _ids, metas, _docs in store.all_chunks(build):
        for meta in metas:  # each chunk's metadata holds its sentences' spans and vectors
            spans, _vectors = decode_sentences(meta)
            sentences[(meta["article_key"], meta["version"])].update(n for n, _, _ in spans)
    broken = []
    for key, meta in manifest.items():
        live = (key, meta["version"])
        complete = chunks[live] == int(meta["chunks"]) > 0 and sentences[live] == set(
            range(last_sentence[live])
        )
        if not complete:
            broken.append(meta["article_id"])
    return broken


class GenerationWatch:
    """Polls the published generation from this (third) process while writers run."""

    def __init__(self, store: ChromaStore) -> None:
        self.store = store
        self.seen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GenerationWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            generation = self.store.read_state().generation
            if not self.seen or generation != self.seen[-1]:
                self.seen.append(generation)


def listed_ids(root: Path, url: str, prefix: str) -> set[str]:
    """Article ids as a reader in a fresh process with its own data dir sees them."""
    result = run_cli(
        ["index", "list", "--json", "--limit", "1000"],
        root,
        CITEBOT_DATA_DIR=str(root / "data-reader"),
        CITEBOT_CHROMA_URL=url,
        CITEBOT_COLLECTION_PREFIX=prefix,
    )
    assert result.returncode == 0, result.stderr
    return {a["id"] for a in json.loads(result.stdout)}


def _store(settings: SettingsFactory, root: Path, url: str, prefix: str) -> ChromaStore:
    return ChromaStore(settings(root / "watcher", chroma_url=url, collection_prefix=prefix))


def test_two_processes_adding_at_once_both_land_completely(
    tmp_path: Path, settings: SettingsFactory, chroma_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    feeds = {tag: tmp_path / f"feed-{tag}.jsonl" for tag in "ab"}
    ids = {tag: write_feed(path, tag, 15) for tag, path in feeds.items()}
    store = _store(settings, tmp_path, chroma_url, prefix)
    with GenerationWatch(store) as watch:
        writers = {
            tag: start_add(tmp_path, tag, path, chroma_url, prefix, CITEBOT_WRITER_WAIT="300")
            for tag, path in feeds.items()
        }
        outputs = {tag: proc.communicate(timeout=600) for tag, proc in writers.items()}
    for tag, (out, err) in outputs.items():
        assert writers[tag].returncode == 0, err
        assert sorted(json.loads(out)["added"]) == ids[tag]
    build = store.read_state().active_build
    assert build is not None and store.builds() == {build}  # one build, not one per writer
    assert store.counts(build)[0] == 30
    assert incomplete_articles(store, build) == []
    assert watch.seen == sorted(set(watch.seen))  # generations only grow
    assert listed_ids(tmp_path, chroma_url, prefix) == set(ids["a"]) | set(ids["b"])


def _lease_holder_pid(store: ChromaStore) -> int | None:
    meta = store.meta_get("lease-writer")
    label = str((meta or {}).get("label", ""))
    return int(label.split()[1]) if label.startswith("pid ") else None


def _mid_write(store: ChromaStore, build: str, visible: int) -> bool:
    """Chunks on the server beyond what the manifest owns: a write is under way."""
    expected = sum(int(m.get("chunks", 0)) for m in store.manifest(build).values())
    return store.counts(build)[1] > max(expected, visible)


@pytest.mark.slow
def test_writer_killed_mid_write_leaves_no_broken_article_and_the_other_takes_over(
    tmp_path: Path, settings: SettingsFactory, chroma_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    seed_feed = tmp_path / "feed-seed.jsonl"
    seed = write_feed(seed_feed, "s", 1)
    setup = start_add(tmp_path, "seed", seed_feed, chroma_url, prefix)
    assert setup.wait(300) == 0, setup.stderr.read()  # type: ignore[union-attr]
    store = _store(settings, tmp_path, chroma_url, prefix)
    build = store.read_state().active_build
    assert build is not None
    seeded = store.counts(build)[1]

    # long articles: each writer's single flush takes a while to land on the server
    feeds = {tag: tmp_path / f"feed-{tag}.jsonl" for tag in "ab"}
    ids = {tag: write_feed(path, tag, 20, sentences=24) for tag, path in feeds.items()}
    env = {"CITEBOT_WRITER_WAIT": "300", "CITEBOT_WRITER_LEASE_SECONDS": "5"}
    writers = {
        tag: start_add(tmp_path, tag, path, chroma_url, prefix, **env)
        for tag, path in feeds.items()
    }
    pids = {proc.pid: tag for tag, proc in writers.items()}
    killed: str | None = None
    try:
        with GenerationWatch(store) as watch:
            deadline = time.monotonic() + 400
            while killed is None and time.monotonic() < deadline:
                if all(proc.poll() is not None for proc in writers.values()):
                    break
                holder = _lease_holder_pid(store)
                if holder in pids and _mid_write(store, build, seeded):
                    os.kill(holder, signal.SIGKILL)
                    killed = pids[holder]
                time.sleep(0.05)
            assert killed is not None, "no write was caught mid-way"
            survivor = "b" if killed == "a" else "a"
            out, err = writers[survivor].communicate(timeout=400)
            writers[killed].wait(10)
    finally:
        for proc in writers.values():
            if proc.poll() is None:
                proc.kill()
    assert writers[killed].returncode == -signal.SIGKILL
    assert writers[survivor].returncode == 0, err
    added = json.loads(out)["added"]
    assert sorted(added) == ids[survivor]  # it waited for the dead writer's lease to expire

    assert store.read_state().active_build == build
    assert incomplete_articles(store, build) == []  # every visible article is whole
    assert watch.seen == sorted(set(watch.seen)) and watch.seen[-1] > watch.seen[0]
    visible = listed_ids(tmp_path, chroma_url, prefix)
    assert set(seed) | set(ids[survivor]) <= visible
    assert visible <= set(seed) | set(ids["a"]) | set(ids["b"])

    # the killed writer runs again once its debris is past the grace period
    rerun = start_add(
        tmp_path, killed, feeds[killed], chroma_url, prefix, CITEBOT_ORPHAN_GRACE_SECONDS="0"
    )
    out, err = rerun.communicate(timeout=400)
    assert rerun.returncode == 0, err
    assert incomplete_articles(store, build) == []
    manifest = store.manifest(build)
    assert store.counts(build)[1] == sum(int(m["chunks"]) for m in manifest.values())  # swept
    assert listed_ids(tmp_path, chroma_url, prefix) == set(seed) | set(ids["a"]) | set(ids["b"])
