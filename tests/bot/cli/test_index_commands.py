"""`citebot index ...` end to end: JSON outputs, bad input, broken stores, feeds, watch.

Most commands run in-process through ``CliRunner`` (sharing the session's model);
what only a real process shows (imports at `--help`, tracebacks, exit codes,
piped output) runs ``citebot`` as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from citebot.bot.cli.watch import watch_folder
from citebot.index.models import IngestReport
from tests.conftest import (
    Invoke,
    LibraryFactory,
    assert_clean_failure,
    clean_env,
    free_port,
    news_text,
    run_cli,
    write_article,
)
from tests.fakes.http_site import LocalSite

LOCAL = {"CITEBOT_ALLOW_PRIVATE_URLS": "true"}  # the tests' feeds are served on 127.0.0.1


# ---- JSON outputs -----------------------------------------------------------------------


def test_status_and_add_json(cli: Invoke, seed_path: Path) -> None:
    empty = cli("index", "status", "--json")
    assert empty.exit_code == 0, empty.output
    status = json.loads(empty.stdout)
    assert {"articles", "chunks", "store", "model"} <= status.keys()
    assert status["articles"] == 0 and "all-MiniLM-L6-v2" in status["model"]

    added = cli("index", "add", str(seed_path), "--json")
    assert added.exit_code == 0, added.output
    report = json.loads(added.stdout)
    assert {"added", "updated", "unchanged", "duplicates", "skipped"} <= report.keys()
    assert report["added"] == [seed_path.name] and report["skipped"] == []

    status = json.loads(cli("index", "status", "--json").stdout)
    assert status["articles"] == 1 and status["chunks"] == report["chunks"] > 0
    assert status["store"].startswith("chroma ")
    listed = json.loads(cli("index", "list", "--json").stdout)
    assert [a["id"] for a in listed] == [seed_path.name]

    again = json.loads(cli("index", "add", str(seed_path), "--json").stdout)
    assert again["unchanged"] == [seed_path.name] and again["chunks"] == 0

    rebuilt = cli("index", "rebuild", "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.stdout)["added"] == [seed_path.name]
    after = json.loads(cli("index", "status", "--json").stdout)
    assert after["collection"] != status["collection"]
    assert (after["articles"], after["chunks"]) == (status["articles"], status["chunks"])


def test_empty_index_and_unknown_ids_fail_in_one_line(cli: Invoke) -> None:
    assert_clean_failure(cli("ask", "Who is Derrick Ingram?"), 1, "the index is empty")
    removed = cli("index", "remove", "no-such-article.txt", "--json")
    assert removed.exit_code == 1
    assert json.loads(removed.stdout)["skipped"] == [
        {"source": "no-such-article.txt", "reason": "no such article"}
    ]


# ---- bad input ----------------------------------------------------------------------------


@pytest.fixture
def bad_batch(tmp_path: Path) -> tuple[list[str], dict[str, str], set[str]]:
    """(sources, expected skip reason by source, ids that must still be added)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (inbox / "legacy.txt").write_bytes(
        b"Caf\xe9 prices rise\n\nThe caf\xe9 on Main Street raised coffee prices by \xa31 on "
        b"Monday, \x93a sad day\x94 regulars said."
    )
    (inbox / "undecodable.txt").write_bytes(  # 0x81/0x8d: invalid in UTF-8 and cp1252
        b"Ferry \x81 timetable\n\nThe ferry timetable for the island changes on Monday \x8d "
        b"and the operator said extra crossings will run at weekends."
    )
    (inbox / "headline-only.txt").write_text("Just a headline\n")
    (inbox / "chrome.html").write_text(
        "<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav>"
        "<script>var x = 1;</script></body></html>"
    )
    good = json.dumps({"id": "jsonl-ok", "title": "Pier vote", "text": news_text(3)[1]})
    (inbox / "feed.jsonl").write_text(f'{good}\n{{"id": broken\n{{"title": "no text"}}\n')
    write_article(inbox, "fresh.txt", *news_text(2))
    missing = str(tmp_path / "missing.txt")
    dead_url = f"http://127.0.0.1:{free_port()}/story"
    names = ["empty.txt", "binary.txt", "legacy.txt", "undecodable.txt", "headline-only.txt"]
    names.append("chrome.html")
    sources = [*(str(inbox / n) for n in names), str(inbox / "feed.jsonl"), missing, dead_url]
    sources.append(str(inbox / "fresh.txt"))
    expected = {
        str(inbox / "empty.txt"): "empty file",
        str(inbox / "binary.txt"): "binary file",
        str(inbox / "headline-only.txt"): "no article text found",
        str(inbox / "chrome.html"): "no article text found",
        f"{inbox / 'feed.jsonl'}:2": "not valid JSON",
        f"{inbox / 'feed.jsonl'}:3": "missing 'text'",
        missing: "no such file or folder",
        dead_url: "unreachable: ",
    }
    return sources, expected, {"legacy.txt", "undecodable.txt", "jsonl-ok", "fresh.txt"}


def test_bad_inputs_are_skipped_and_the_batch_goes_on(
    cli: Invoke,
    tmp_path: Path,
    bad_batch: tuple[list[str], dict[str, str], set[str]],
) -> None:
    sources, expected, good_ids = bad_batch
    kept = write_article(tmp_path / "kept", "kept.txt", *news_text(0))
    assert cli("index", "add", str(kept)).exit_code == 0

    result = cli("index", "add", *sources, "--json", **LOCAL)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert set(report["added"]) == good_ids
    reasons = {s["source"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == set(expected)
    for source, reason in expected.items():
        assert reasons[source].startswith(reason), (source, reasons[source])
        assert "\n" not in reasons[source]
    assert "Traceback" not in result.output

    listed = {a["id"]: a["title"] for a in json.loads(cli("index", "list", "--json").stdout)}
    assert set(listed) == good_ids | {"kept.txt"}  # nothing already indexed was lost
    assert listed["legacy.txt"] == "Café prices rise"  # cp1252 bytes decoded, not dropped


def test_skip_lines_name_source_and_reason(
    cli: Invoke, bad_batch: tuple[list[str], dict[str, str], set[str]]
) -> None:
    sources, expected, _ = bad_batch
    result = cli("index", "add", *sources, **LOCAL)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    for source, reason in expected.items():
        assert any(line.strip().startswith(f"skipped: {source}: {reason}") for line in lines), (
            f"no one-line skip message for {source}:\n{result.stdout}"
        )
    assert "4 added" in result.stdout and "8 skipped" in result.stdout


def test_headline_only_stories_are_named_and_do_not_fail_the_batch(
    cli: Invoke, tmp_path: Path
) -> None:
    feed = tmp_path / "scraped.jsonl"
    record = {"id": "ford", "url": "https://ex.com/ford", "title": "Ford recall", "text": " "}
    feed.write_text(json.dumps(record) + "\n")
    result = cli("index", "add", str(feed))
    assert result.exit_code == 0, result.stdout
    assert "1 added" in result.stdout
    assert "headline only: ford (no body text found; indexed its headline and link)" in (
        result.stdout
    )


def test_piped_skip_lines_are_not_wrapped(tmp_path: Path) -> None:
    deep = tmp_path / "a-folder-with-a-rather-long-name" / "and-another-level-below-it"
    deep.mkdir(parents=True)
    (deep / "empty-article-file.txt").write_bytes(b"")
    env = clean_env(CITEBOT_DATA_DIR=str(tmp_path / "data"))
    env.pop("COLUMNS", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "citebot.bot.cli.app",
            "index",
            "add",
            str(deep / "empty-article-file.txt"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    wanted = f"skipped: {deep / 'empty-article-file.txt'}: empty file"
    assert any(line.strip() == wanted for line in result.stdout.splitlines()), result.stdout


# ---- broken stores ------------------------------------------------------------------------


def test_foreign_data_dir_is_refused_untouched(cli: Invoke, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my notes")
    (foreign / "photo.jpg").write_bytes(os.urandom(256))
    before = sorted(p.name for p in foreign.iterdir())
    for args in (("index", "status"), ("index", "add", str(tmp_path)), ("ask", "Who?")):
        result = cli(*args, CITEBOT_DATA_DIR=str(foreign))
        assert_clean_failure(result, 3, str(foreign), "not a citebot data dir")
    assert sorted(p.name for p in foreign.iterdir()) == before


def test_corrupt_chroma_file_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    article = write_article(tmp_path / "in", "story.txt", *news_text(1))
    data = tmp_path / "data"
    env = {"CITEBOT_DATA_DIR": str(data)}
    assert run_cli(["index", "add", str(article)], tmp_path, **env).returncode == 0
    sqlite = data / "chroma" / "chroma.sqlite3"
    sqlite.write_bytes(os.urandom(64 * 1024))
    for args in (["index", "status"], ["index", "add", str(article)], ["ask", "What happened?"]):
        result = run_cli(args, tmp_path, **env)
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "may be corrupt" in lines[0] and str(data) in lines[0]
        assert "Traceback" not in result.stdout + result.stderr


def test_chroma_server_down(cli: Invoke) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("index", "status", "--json"), ("index", "add", "x.txt"), ("ask", "Who?")):
        result = cli(*args, CITEBOT_CHROMA_URL=url)
        assert_clean_failure(result, 3, f"Chroma server at {url} is unreachable")
        assert result.stdout.strip() == ""


# ---- feeds, folders, watch ------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{body}</p></article></body></html>"
    )


def _rss(site: LocalSite, paths: list[str]) -> str:
    items = "".join(
        f"<item><title>Story {p}</title><link>{site.url(p)}</link>"
        "<pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate><description>Teaser.</description></item>"
        for p in paths
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Gazette</title>'
        f"<link>{site.base}</link>{items}</channel></rss>"
    )


def test_feed_is_recorded_and_update_pulls_new_items(cli: Invoke, site: LocalSite) -> None:
    site.add("/news/1.html", _page("Pier vote", news_text(3)[1]))
    site.add("/news/2.html", _page("Comet seen", news_text(2)[1]))
    feed = site.add("/feed.xml", _rss(site, ["/news/1.html"]), "application/rss+xml")

    first = cli("index", "add", feed, "--json", **LOCAL)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["added"] == [site.url("/news/1.html")]
    assert json.loads(cli("index", "status", "--json").stdout)["feeds"] == [feed]

    site.add("/feed.xml", _rss(site, ["/news/2.html", "/news/1.html"]), "application/rss+xml")
    update = cli("index", "update", "--json", **LOCAL)
    assert update.exit_code == 0, update.output
    report = json.loads(update.stdout)
    assert report["added"] == [site.url("/news/2.html")]
    assert report["unchanged"] == [site.url("/news/1.html")]
    status = json.loads(cli("index", "status", "--json").stdout)
    assert status["articles"] == 2 and status["feeds"] == [feed]


def test_second_update_of_an_unchanged_feed_fetches_no_entry_page(
    cli: Invoke, site: LocalSite
) -> None:
    paths = ["/news/1.html", "/news/2.html"]
    for n, path in enumerate(paths):
        site.add(path, _page(f"Story {n}", news_text(n)[1]))
    feed = site.add("/feed.xml", _rss(site, paths), "application/rss+xml")
    assert cli("index", "add", feed, **LOCAL).exit_code == 0

    for command in (["index", "update"], ["index", "rebuild"], ["index", "update"]):
        site.clear()
        result = cli(*command, "--json", **LOCAL)
        assert result.exit_code == 0, result.output
    assert site.hits == ["/feed.xml"]  # the entries' stamps survive a rebuild too
    assert sorted(json.loads(result.stdout)["unchanged"]) == [site.url(p) for p in paths]

    # the feed dates entry 1 anew (its page changed): that page alone is fetched again
    site.clear()
    site.add(paths[0], _page("Story 0", news_text(5)[1]))
    dated = _rss(site, paths).replace(
        "<pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate>",
        "<pubDate>Wed, 06 Mar 2024 10:00:00 GMT</pubDate>",
        1,
    )
    site.add("/feed.xml", dated, "application/rss+xml")
    report = json.loads(cli("index", "update", "--json", **LOCAL).stdout)
    assert sorted(site.hits) == ["/feed.xml", paths[0]]
    assert report["updated"] == [site.url(paths[0])]
    assert report["unchanged"] == [site.url(paths[1])]


def test_update_sends_the_feeds_etag_and_stops_at_not_modified(
    cli: Invoke, site: LocalSite
) -> None:
    site.add("/news/1.html", _page("Pier vote", news_text(3)[1]))
    site.add("/news/2.html", _page("Comet seen", news_text(2)[1]))
    feed = site.add("/feed.xml", _rss(site, ["/news/1.html"]), "application/rss+xml", etag='"v1"')
    assert cli("index", "add", feed, **LOCAL).exit_code == 0

    site.clear()
    same = cli("index", "update", "--json", **LOCAL)
    assert same.exit_code == 0, same.output
    assert site.hits == ["/feed.xml"] and site.requests[0]["If-None-Match"] == '"v1"'
    assert not json.loads(same.stdout)["added"]

    site.clear()
    newer = _rss(site, ["/news/2.html", "/news/1.html"])
    site.add("/feed.xml", newer, "application/rss+xml", etag='"v2"')
    report = json.loads(cli("index", "update", "--json", **LOCAL).stdout)
    assert site.hits == ["/feed.xml", "/news/2.html"]
    assert report["added"] == [site.url("/news/2.html")]


def test_feeds_on_this_machine_are_refused_without_the_flag(cli: Invoke, site: LocalSite) -> None:
    feed = site.add("/feed.xml", _rss(site, ["/news/1.html"]), "application/rss+xml")
    result = cli("index", "add", feed)
    assert result.exit_code == 1
    assert "CITEBOT_ALLOW_PRIVATE_URLS" in result.stdout and site.hits == []


def test_update_drops_files_deleted_from_a_folder_added_by_relative_path(
    cli: Invoke, tmp_path: Path
) -> None:
    write_article(tmp_path / "news", "a.txt", *news_text(0))
    write_article(tmp_path / "news", "b.txt", *news_text(1))
    assert cli("index", "add", "news").exit_code == 0  # cwd is tmp_path
    (tmp_path / "news" / "b.txt").unlink()
    report = json.loads(cli("index", "update", "--json").stdout)
    assert report["removed"] == ["b.txt"] and report["unchanged"] == ["a.txt"]
    assert [a["id"] for a in json.loads(cli("index", "list", "--json").stdout)] == ["a.txt"]


def _wait(condition: Callable[[], bool], what: str, errors: list[BaseException]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if errors:
            raise AssertionError(f"the watcher crashed: {errors[0]!r}")
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_watch_folder_follows_adds_changes_and_deletes(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    folder = tmp_path / "watched"
    write_article(folder, "first.txt", *news_text(0))
    writer, reader = make_library(tmp_path), make_library(tmp_path)
    reports: list[IngestReport] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def run() -> None:
        try:
            watch_folder(writer, folder, reports.append, stop)
        except BaseException as exc:  # surfaced by _wait in the test thread
            errors.append(exc)

    def ids() -> set[str]:
        return {a.id for a in reader.list_articles()}

    def hits(query: str) -> list[str]:
        return [h.article_id for h in reader.search(query, method="bm25")]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        _wait(lambda: ids() == {"first.txt"}, "the initial sync", errors)
        write_article(folder, "second.txt", *news_text(1))
        _wait(lambda: ids() == {"first.txt", "second.txt"}, "the new file", errors)
        (folder / "second.txt").write_text("Second\n\nGlacier meltwater reached the valley.\n")
        _wait(lambda: hits("meltwater") == ["second.txt"], "the modified file", errors)
        (folder / "first.txt").unlink()
        _wait(lambda: ids() == {"second.txt"}, "the deleted file", errors)
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive() and not errors
    assert reports[0].added == ["first.txt"]
    assert any(r.updated == ["second.txt"] for r in reports)
    assert any(r.removed == ["first.txt"] for r in reports)
    assert hits("zq1") == []  # the old text of second.txt is gone from the keyword index
