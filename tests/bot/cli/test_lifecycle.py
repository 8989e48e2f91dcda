"""Index lifecycle from the command line: removals that stick, forgetting sources,
the bundled demo article, and what `list`, `status` and `remove` print."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Invoke, assert_clean_failure, news_text, write_article, write_news
from tests.fakes.http_site import LocalSite

ALLOW_LOCAL = {"CITEBOT_ALLOW_PRIVATE_URLS": "1"}  # the test site runs on 127.0.0.1


def ids(cli: Invoke) -> set[str]:
    return {a["id"] for a in json.loads(cli("index", "list", "--all", "--json").stdout)}


def report(cli: Invoke, *args: str) -> dict:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---- removals that stick ---------------------------------------------------------------


def test_removed_file_of_a_recorded_folder_stays_out_until_it_changes(
    cli: Invoke, tmp_path: Path
) -> None:
    folder = tmp_path / "news"
    write_news(folder, 3)
    report(cli, "index", "add", str(folder))

    assert report(cli, "index", "remove", "news-001.txt")["removed"] == ["news-001.txt"]
    update = report(cli, "index", "update")
    assert update["kept_removed"] == ["news-001.txt"] and update["added"] == []
    assert ids(cli) == {"news-000.txt", "news-002.txt"}
    plain = cli("index", "update")
    assert "1 left out (removed earlier)" in plain.stdout and plain.exit_code == 0

    write_article(folder, "news-001.txt", "Changed story", news_text(9)[1])  # the file changes
    assert report(cli, "index", "update")["added"] == ["news-001.txt"]
    assert "news-001.txt" in ids(cli)


def test_an_explicit_add_brings_a_removed_article_back(cli: Invoke, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    write_news(folder, 2)
    report(cli, "index", "add", str(folder))
    report(cli, "index", "remove", "news-000.txt")
    assert report(cli, "index", "add", str(folder))["added"] == ["news-000.txt"]
    assert report(cli, "index", "update")["kept_removed"] == []  # the tombstone is gone


def test_removal_survives_a_rebuild(cli: Invoke, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    write_news(folder, 2)
    report(cli, "index", "add", str(folder))
    report(cli, "index", "remove", "news-000.txt")
    report(cli, "index", "rebuild")
    assert report(cli, "index", "update")["kept_removed"] == ["news-000.txt"]
    assert ids(cli) == {"news-001.txt"}


def _page(title: str, body: str) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{body}</p></article></body></html>"
    )


def _rss(site: LocalSite, paths: list[str]) -> str:
    items = "".join(
        f"<item><title>Story {p}</title><link>{site.url(p)}</link></item>" for p in paths
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>'
        f"<link>{site.base}</link>{items}</channel></rss>"
    )


def test_removed_feed_entry_stays_out_until_it_changes(cli: Invoke, site: LocalSite) -> None:
    site.add("/a.html", _page("Pier vote", news_text(3)[1]))
    site.add("/b.html", _page("Comet seen", news_text(2)[1]))
    feed = site.add("/feed.xml", _rss(site, ["/a.html", "/b.html"]), "application/rss+xml")
    first = cli("index", "add", feed, "--json", **ALLOW_LOCAL)
    assert first.exit_code == 0, first.output
    gone = site.url("/a.html")

    assert cli("index", "remove", gone, **ALLOW_LOCAL).exit_code == 0
    update = json.loads(cli("index", "update", "--json", **ALLOW_LOCAL).stdout)
    assert update["kept_removed"] == [gone] and update["added"] == []

    site.add("/a.html", _page("Pier vote", news_text(5)[1]))  # the entry's page changes
    update = json.loads(cli("index", "update", "--json", **ALLOW_LOCAL).stdout)
    assert update["added"] == [gone]


# ---- forgetting recorded sources ---------------------------------------------------------


def test_a_deleted_folder_can_be_forgotten(cli: Invoke, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    write_news(folder, 2)
    report(cli, "index", "add", str(folder))
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()

    stuck = cli("index", "update")
    assert stuck.exit_code == 1
    assert f"`citebot index forget {folder}`" in stuck.stdout

    not_an_id = cli("index", "remove", str(folder))
    assert not_an_id.exit_code == 1 and "citebot index forget" in not_an_id.stdout

    forgot = cli("index", "forget", "news")  # relative to the cwd, like `index add news`
    assert forgot.exit_code == 0, forgot.output
    assert f"forgot {folder}" in forgot.stdout and "stay indexed" in forgot.stdout
    assert cli("index", "update").exit_code == 0
    assert ids(cli) == {"news-000.txt", "news-001.txt"}  # forgetting removes nothing

    assert_clean_failure(cli("index", "forget", str(folder)), 2, "not a recorded folder or feed")


def test_a_feed_can_be_forgotten(cli: Invoke, site: LocalSite) -> None:
    site.add("/a.html", _page("Pier vote", news_text(3)[1]))
    feed = site.add("/feed.xml", _rss(site, ["/a.html"]), "application/rss+xml")
    assert cli("index", "add", feed, **ALLOW_LOCAL).exit_code == 0
    assert json.loads(cli("index", "forget", feed, "--json").stdout) == {"forgotten": [feed]}
    assert json.loads(cli("index", "status", "--json").stdout)["feeds"] == []


# ---- the bundled demo article ------------------------------------------------------------


def test_demo_article_is_announced_once_and_stays_removed(cli: Invoke, tmp_path: Path) -> None:
    demo = {"CITEBOT_AUTO_INDEX_BUNDLED": "true"}
    first = cli("ask", "Who is Derrick Ingram?", **demo)
    assert first.exit_code == 0, first.output
    assert "demo article (nyc-mayor-facial-recognition.txt)" in first.stderr
    assert str(tmp_path / "data") in first.stderr  # where the index lives

    second = cli("ask", "Who is Derrick Ingram?", **demo)
    assert second.exit_code == 0 and second.stderr == ""

    assert cli("index", "remove", "nyc-mayor-facial-recognition.txt").exit_code == 0
    empty = cli("ask", "Who is Derrick Ingram?", **demo)
    assert_clean_failure(empty, 1, "the index is empty")  # not silently re-indexed
    assert ids(cli) == set()


# ---- what list, status and remove print ---------------------------------------------------


def test_list_says_what_it_left_out(cli: Invoke, tmp_path: Path) -> None:
    assert "the index is empty" in cli("index", "list").stdout
    write_news(tmp_path / "news", 3)
    report(cli, "index", "add", str(tmp_path / "news"))

    everything = cli("index", "list")
    assert everything.stdout.count("news-00") == 3 and "shown" not in everything.stdout
    limited = cli("index", "list", "--limit", "2")
    assert limited.stdout.count("news-00") == 2
    assert "2 of 3 shown; --limit N / --all" in limited.stdout
    assert cli("index", "list", "--limit", "2", "--all").stdout.count("news-00") == 3
    assert len(json.loads(cli("index", "list", "--limit", "2", "--json").stdout)) == 2

    missing = cli("index", "list", "zeppelin")
    assert missing.exit_code == 0 and "no article matches 'zeppelin'" in missing.stdout


def test_status_of_an_empty_index(cli: Invoke) -> None:
    page = cli("index", "status")
    assert page.exit_code == 0
    assert "(none)" not in page.stdout and "the index is empty" in page.stdout
    assert json.loads(cli("index", "status", "--json").stdout)["collection"] is None


def test_remove_reports_the_removal_only(cli: Invoke, tmp_path: Path) -> None:
    write_news(tmp_path / "news", 1)
    report(cli, "index", "add", str(tmp_path / "news"))
    removed = cli("index", "remove", "news-000.txt")
    assert removed.exit_code == 0
    assert removed.stdout.startswith("1 removed; ") and "added" not in removed.stdout
    unknown = cli("index", "remove", "nope.txt")
    assert unknown.exit_code == 1
    assert unknown.stdout.splitlines()[0].startswith("1 skipped; ")
    assert "skipped: nope.txt: no such article" in unknown.stdout


def test_add_says_what_a_web_address_was_taken_for(cli: Invoke) -> None:
    result = cli("index", "add", "www.example.com/story", "ftp://example.com/a.txt", "--json")
    assert result.exit_code == 1
    reasons = {s["source"]: s["reason"] for s in json.loads(result.stdout)["skipped"]}
    assert reasons == {
        "www.example.com/story": "not a file; did you mean https://www.example.com/story?",
        "ftp://example.com/a.txt": "only http and https URLs can be fetched (not ftp://)",
    }
