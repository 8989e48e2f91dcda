"""Article readers: files, folders, JSON(L), web pages and feeds (real parts, no models)."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from citebot.index.eval.datasets import bbc_dir, realtimeqa_dir
from citebot.index.ingest.readers import FeedSeen, Fetcher, Item, is_url, iter_source
from citebot.index.ingest.readers.boilerplate import clean_text, is_chrome
from citebot.index.ingest.readers.dates import iso_date
from citebot.index.models import Article, Skipped
from citebot.index.settings import Settings
from tests.conftest import SEED, ExplicitSettings
from tests.fakes.http_site import LocalSite

BBC = bbc_dir()
RTQA = realtimeqa_dir() / "articles.jsonl"

PARAGRAPHS = (
    "<p>The city council voted 7-2 on Tuesday to build twelve miles of protected bike "
    "lanes downtown, ending a debate that lasted more than two years.</p>"
    "<p>Mayor Dana Lee said construction would begin in June and finish by the end of next "
    "year, at a cost of about 14 million dollars paid from the transport budget.</p>"
)


def read(source: str | Path, **overrides: Any) -> list[Item]:
    """Everything a source yields; URLs on the tests' 127.0.0.1 servers are allowed."""
    return list(iter_source(str(source), reader_settings(**overrides)))


def reader_settings(**overrides: Any) -> Settings:
    return ExplicitSettings(**{"allow_private_urls": True, **overrides})


def articles(items: list[Item]) -> list[Article]:
    return [item for item in items if isinstance(item, Article)]


def skips(items: list[Item]) -> list[Skipped]:
    return [item for item in items if isinstance(item, Skipped)]


def only_article(source: str | Path) -> Article:
    items = read(source)
    assert len(items) == 1 and isinstance(items[0], Article), items
    return items[0]


def only_skip(source: str | Path) -> Skipped:
    items = read(source)
    assert len(items) == 1 and isinstance(items[0], Skipped), items
    return items[0]


def html_page(title: str, body: str = PARAGRAPHS, head: str = "") -> str:
    return (
        f"<!doctype html><html><head><title>{title} | Daily Gazette</title>{head}</head>"
        f"<body><nav><a href='/'>Home</a> <a href='/sport'>Sport</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        f"<footer>Contact us · Careers · Terms of use</footer></body></html>"
    )


# --- plain text -----------------------------------------------------------------------


def test_txt_first_line_is_title_and_id_is_file_name(tmp_path: Path) -> None:
    path = tmp_path / "council.txt"
    path.write_text(
        "\n\n  Council approves bike lanes  \n\nThe council voted 7-2.\n\nWork starts.\n"
    )
    article = only_article(path)
    assert article.title == "Council approves bike lanes"
    assert article.text == "The council voted 7-2.\n\nWork starts."
    assert article.id == "council.txt"
    assert article.source == str(path)
    assert article.url is None


def test_txt_single_long_line_is_body_but_lone_headline_is_skipped(tmp_path: Path) -> None:
    long_line = "The council voted on Tuesday to build bike lanes downtown. " * 5
    (tmp_path / "long.txt").write_text(long_line)
    article = only_article(tmp_path / "long.txt")
    assert article.text == long_line.strip()
    assert article.title.startswith("The council voted") and len(article.title) <= 121
    (tmp_path / "short.txt").write_text("Just a headline\n")
    assert "no article text found" in only_skip(tmp_path / "short.txt").reason


def test_latin1_byte_is_kept_as_pound_sign(tmp_path: Path) -> None:
    path = tmp_path / "mutu.txt"
    path.write_bytes(b"Chelsea sack Mutu\n\nMutu, a \xa315.8m signing from Parma, was sacked.\n")
    assert "a £15.8m signing" in only_article(path).text


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Überschrift\n\nDer Rat stimmte zu.".encode("utf-16"))
    article = only_article(path)
    assert (article.title, article.text) == ("Überschrift", "Der Rat stimmte zu.")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\n\t \n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary file"),
        (bytes(b for b in random.Random(7).randbytes(4000) if b), "binary file"),
    ],
    ids=["empty", "whitespace", "nul-bytes", "undecodable-noise"],
)
def test_unreadable_files_are_skipped_with_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    skipped = only_skip(path)
    assert skipped.source == str(path)
    assert skipped.reason == reason


def test_missing_path_and_unsupported_type_are_skipped(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert only_skip(missing) == Skipped(source=str(missing), reason="no such file or folder")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert "unsupported file type '.pdf'" in only_skip(pdf).reason


# --- markdown ---------------------------------------------------------------------------


def test_markdown_front_matter_sets_metadata_and_url_id(tmp_path: Path) -> None:
    path = tmp_path / "lanes.md"
    path.write_text(
        "---\ntitle: Council approves bike lanes\nurl: https://news.example.com/lanes\n"
        "published: 2024-03-05\nauthors: [Jane Roe, John Doe]\n---\n"
        "# Council approves bike lanes\n\nThe council voted **7-2** on [Tuesday](https://x.y/).\n\n"
        "## Costs\n\nIt costs $14m.\n"
    )
    article = only_article(path)
    assert article.id == "https://news.example.com/lanes"
    assert article.url == "https://news.example.com/lanes"
    assert article.title == "Council approves bike lanes"
    assert article.published == "2024-03-05"
    assert article.authors == ["Jane Roe", "John Doe"]
    assert article.text == "The council voted 7-2 on Tuesday.\n\nCosts\n\nIt costs $14m."


def test_markdown_without_front_matter_uses_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# Storm closes schools\n\nAll schools closed on Friday.\n\n### Why\n\nSnow.\n")
    article = only_article(path)
    assert article.title == "Storm closes schools"
    assert article.text == "All schools closed on Friday.\n\nWhy\n\nSnow."
    assert article.id == "note.md"


def test_markdown_with_broken_front_matter_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "broken.md"
    path.write_text("---\ntitle: [unclosed\n---\nBody text here.\n")
    assert only_skip(path).reason.startswith("bad YAML front matter")


# --- html files -------------------------------------------------------------------------


def test_html_file_uses_canonical_url_date_and_main_text(tmp_path: Path) -> None:
    head = (
        '<link rel="canonical" href="https://news.example.com/2024/03/bike-lanes">'
        '<meta property="article:published_time" content="2024-03-05T09:30:00Z">'
        '<meta name="author" content="Jane Roe">'
    )
    path = tmp_path / "lanes.html"
    path.write_text(html_page("Council approves bike lanes", head=head))
    article = only_article(path)
    assert article.id == article.url == "https://news.example.com/2024/03/bike-lanes"
    assert article.published == "2024-03-05T09:30:00+00:00"
    assert article.authors == ["Jane Roe"]
    assert article.title == "Council approves bike lanes"
    assert article.text.startswith("The city council voted 7-2")
    assert "\n\nMayor Dana Lee said" in article.text
    assert "Careers" not in article.text and "Home" not in article.text


def test_html_without_canonical_or_with_homepage_canonical_uses_path(tmp_path: Path) -> None:
    (tmp_path / "a.htm").write_text(html_page("First story"))
    head = '<link rel="canonical" href="https://news.example.com/">'
    (tmp_path / "b.html").write_text(html_page("Second story", head=head))
    ids = [article.id for article in articles(read(tmp_path))]
    assert ids == ["a.htm", "b.html"]


def test_html_hard_wrapped_paragraphs_stay_whole_and_no_date_is_guessed(tmp_path: Path) -> None:
    body = (
        "<p>The river rose three metres overnight\nand flooded the old town,\n"
        "officials said on Wednesday morning.</p>"
        "<ul><li>Schools were closed for the rest of the week.</li>"
        "<li>Two bridges were shut to traffic until further notice.</li></ul>"
        "<p>Engineers expect the water to fall slowly over the weekend as the rain "
        "moves east, but warned that more storms could follow next month.</p>"
    )
    path = tmp_path / "flood.html"
    path.write_text(html_page("River floods old town", body=body).replace("Careers", "© 2018"))
    article = only_article(path)
    assert article.text.split("\n\n") == [
        "The river rose three metres overnight and flooded the old town, "
        "officials said on Wednesday morning.",
        "Schools were closed for the rest of the week.",
        "Two bridges were shut to traffic until further notice.",
        "Engineers expect the water to fall slowly over the weekend as the rain moves east, "
        "but warned that more storms could follow next month.",
    ]
    assert article.published is None


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>Nothing</title></head><body><nav>Home</nav></body></html>")
    assert only_skip(path).reason == "no article text found"


# --- json / jsonl -----------------------------------------------------------------------


def test_jsonl_keeps_ids_uses_urls_and_hashes_and_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(
        '{"id": "a1", "title": "Given id", "text": "Alpha text.", "published": "2022/06/12",'
        ' "authors": ["Ann"]}\n'
        '{"url": "https://ex.com/b", "title": "Url only", "text": "Beta text."}\n'
        "{not json\n"
        '{"id": "d4", "title": "No text"}\n'
        "\n"
        '{"title": "Nothing but text", "text": "Gamma text."}\n'
    )
    items = read(path)
    found = articles(items)
    assert [a.id for a in found] == [
        "a1",
        "https://ex.com/b",
        hashlib.sha1(b"Gamma text.").hexdigest()[:12],
    ]
    assert found[0].published == "2022-06-12" and found[0].authors == ["Ann"]
    assert found[1].url == "https://ex.com/b"
    assert all(a.source == str(path) for a in found)
    bad = skips(items)
    assert [s.source for s in bad] == [f"{path}:3", f"{path}:4"]
    assert bad[0].reason.startswith("not valid JSON")
    assert bad[1].reason == "missing 'text'"


AD_WIDGET = (
    "1. How relevant is this ad to you?\n\nVideo player was slow to load content Video "
    "content never loaded Ad froze or did not finish loading"
)


def test_jsonl_story_with_headline_and_link_but_no_body_is_indexed_from_its_headline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "scraped.jsonl"
    records = [
        {"id": "ford", "url": "https://ex.com/ford", "title": "Ford recall", "text": AD_WIDGET},
        {"url": "https://ex.com/sprite", "title": "Sprite green bottle"},
        {"id": "no-link", "title": "Walmart prices", "text": AD_WIDGET},
        {"id": "full", "url": "https://ex.com/full", "title": "Full story", "text": "A body."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records))
    items = read(path)
    found = {a.id: a for a in articles(items)}
    assert found["ford"].text == "Ford recall" and found["ford"].headline_only
    assert found["https://ex.com/sprite"].text == "Sprite green bottle"
    assert found["https://ex.com/sprite"].url == "https://ex.com/sprite"
    assert not found["full"].headline_only
    assert [(s.source, s.reason) for s in skips(items)] == [(f"{path}:3", "no article text found")]


def test_machine_made_titles_give_way_to_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "slugs.jsonl"
    body = "The United States on Monday unveiled a new player in the war.\n\nMore text."
    records = [
        {"id": "hex", "title": "H c164ac931cc8414108b8bbae8f859e65", "text": body},
        {"id": "b64", "title": "Qp3v0bv90zxjtpte2nty0otg5njkymzzj", "text": body},
        {"id": "ok", "title": "Windows 11 22H2 update delayed", "text": body},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records))
    titles = {a.id: a.title for a in articles(read(path))}
    first_line = "The United States on Monday unveiled a new player in the war."
    assert titles == {"hex": first_line, "b64": first_line, "ok": "Windows 11 22H2 update delayed"}


def test_json_array_and_articles_object(tmp_path: Path) -> None:
    array = tmp_path / "list.json"
    array.write_text('[{"id": 7, "title": "T", "text": "Body."}, {"title": "no text"}, 5]')
    items = read(array)
    assert [a.id for a in articles(items)] == ["7"]
    assert [(s.source, s.reason) for s in skips(items)] == [
        (f"{array}[1]", "missing 'text'"),
        (f"{array}[2]", "not a JSON object"),
    ]
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text('{"articles": [{"id": "w", "title": "W", "text": "Wrapped body."}]}')
    assert only_article(wrapped).text == "Wrapped body."
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": 1,]')
    assert only_skip(broken).reason.startswith("not valid JSON")


# --- folders and id stability -----------------------------------------------------------


def make_folder(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.txt").write_text("Bee\n\nBee body.")
    (root / "sub" / "a.md").write_text("# Ay\n\nAy body.")
    (root / "sub" / "deeper" / "c.TXT").write_text("Sea\n\nSea body.")
    (root / "rows.jsonl").write_text('{"id": "row-1", "title": "Row", "text": "Row body."}\n')
    (root / ".hidden" / "x.txt").write_text("Hidden\n\nHidden body.")
    (root / ".dot.txt").write_text("Dot\n\nDot body.")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "README.txt").write_text("About this folder\n\nNot news.")
    return root


def test_folder_is_recursive_sorted_and_ignores_hidden_and_other_files(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "news")
    items = read(folder)
    assert skips(items) == []
    assert [a.id for a in articles(items)] == ["b.txt", "row-1", "sub/a.md", "sub/deeper/c.TXT"]
    assert articles(items)[2].source == str(folder / "sub" / "a.md")


def test_ids_are_stable_across_reads_and_relative_to_the_added_folder(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "news")
    first = [(a.id, a.text) for a in articles(read(folder))]
    second = [(a.id, a.text) for a in articles(read(folder))]
    assert first == second
    assert [a.id for a in articles(read(folder / "sub"))] == ["a.md", "deeper/c.TXT"]
    assert only_article(folder / "sub" / "deeper" / "c.TXT").id == "c.TXT"


def test_symlinks_leading_out_of_the_folder_are_skipped_and_reported(tmp_path: Path) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text("Bank details\n\nThe account number is 12345678.")
    (outside / "notes").mkdir()
    (outside / "notes" / "diary.txt").write_text("Diary\n\nDear diary, today I wrote.")
    folder = make_folder(tmp_path / "news")
    (folder / "leak.txt").symlink_to(outside / "secret.txt")
    (folder / "sub" / "notes").symlink_to(outside / "notes", target_is_directory=True)
    (folder / "sub" / "b-again.txt").symlink_to(folder / "b.txt")  # inside: read as usual

    items = read(folder)
    reason = "symlink to outside the folder: not read"
    assert skips(items) == [
        Skipped(source=str(folder / "leak.txt"), reason=reason),
        Skipped(source=str(folder / "sub" / "notes"), reason=reason),
    ]
    assert not any("12345678" in a.text or "diary" in a.text for a in articles(items))
    ids = [a.id for a in articles(items)]
    assert ids == ["b.txt", "row-1", "sub/a.md", "sub/b-again.txt", "sub/deeper/c.TXT"]


def test_empty_folder_is_reported(tmp_path: Path) -> None:
    assert "no article files found" in only_skip(tmp_path).reason


# --- boilerplate ------------------------------------------------------------------------


@pytest.mark.skipif(not SEED.exists(), reason="seed article not present")
def test_seed_article_tail_chrome_is_removed() -> None:
    article = only_article(SEED)
    assert article.title == "NYC Mayor Will Reassess NYPD's Use of Facial Recognition Technology"
    assert "Read next" not in article.text
    assert "All rights reserved" not in article.text
    assert "More from iTechPost" not in article.text
    assert "Real Time Analytics" not in article.text
    assert "de Blasio" in article.text
    assert article.text.endswith("for specific law enforcement purposes.")
    assert "\n\n\n" not in article.text


def test_chrome_lines_dropped_but_prose_kept() -> None:
    text = (
        "Lead paragraph.   \n\n\n\nRead more: Ten other stories\nAdvertisement\n"
        "Sign up for our newsletter\nShare this article\n© 2024 Gazette. All rights reserved.\n"
        "She said she would sign up for the newsletter next week.\n\n"
        "(c) the third option was cheaper, the report said.\n\n"
        "Copyright disputes rose in 2023, the office said.\n\n"
        "Read more about it in the report, she said.\n\n"
        "More from Gazette\n\nTop ten\nWeather"
    )
    assert clean_text(text) == (
        "Lead paragraph.\n\n"
        "She said she would sign up for the newsletter next week.\n\n"
        "(c) the third option was cheaper, the report said.\n\n"
        "Copyright disputes rose in 2023, the office said.\n\n"
        "Read more about it in the report, she said."
    )


def test_more_from_line_mid_article_does_not_cut_the_article() -> None:
    body = "More from the minister\n\n" + "A long paragraph that keeps going on. " * 5
    assert clean_text(body).endswith("keeps going on.")
    assert not is_chrome("More from the minister")


# --- dates and urls ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022/06/12", "2022-06-12"),
        ("2024-03-05", "2024-03-05"),
        ("2024-03-05T09:30:00Z", "2024-03-05T09:30:00+00:00"),
        ("Tue, 05 Mar 2024 09:30:00 GMT", "2024-03-05T09:30:00+00:00"),
        (date(2024, 3, 5), "2024-03-05"),
        (time.struct_time((2024, 3, 5, 9, 30, 0, 1, 65, 0)), "2024-03-05T09:30:00+00:00"),
        ("yesterday", None),
        ("2024/13/40", None),
        (None, None),
    ],
)
def test_iso_date(value: object, expected: str | None) -> None:
    assert iso_date(value) == expected


def test_is_url() -> None:
    assert is_url("https://example.com/a") and is_url("HTTP://example.com")
    assert not is_url("example.com/a")
    assert not is_url("/tmp/file.html")
    assert not is_url("ftp://example.com/a")
    assert not is_url("http://")


def test_importing_readers_does_not_load_heavy_parsers() -> None:
    code = (
        "import sys, citebot.index.ingest.readers\n"
        "print(sorted(m for m in ('trafilatura', 'feedparser', 'lxml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- real datasets (read-only, skipped when absent) ------------------------------------


@pytest.mark.skipif(not BBC.exists(), reason="BBC News dataset not present")
def test_bbc_sport_folder_reads_including_latin1_file() -> None:
    items = read(BBC / "sport")
    assert skips(items) == []
    by_id = {a.id: a for a in articles(items)}
    assert len(by_id) == 511
    assert by_id["199.txt"].title == "Chelsea sack Mutu"
    assert "£15.8m" in by_id["199.txt"].text


@pytest.mark.skipif(not RTQA.exists(), reason="RealTime QA dataset not present")
def test_realtimeqa_jsonl_keeps_ids_and_reads_ad_widget_records_as_headlines() -> None:
    items = read(RTQA)
    found = articles(items)
    assert len(found) == 218 and skips(items) == []
    assert found[0].id == "5b14cd16b6fe" and found[0].published == "2022-06-12"
    assert not any("How relevant is this ad" in a.text for a in found)
    headlines = {a.id: a.text for a in found if a.headline_only}
    assert headlines["80ca9b5ed2ad"] == "Ford recall"  # a CNN video page: only the ad form
    assert len(headlines) == 14


# --- web pages and feeds ----------------------------------------------------------------


def rss(site: LocalSite, items: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{site.url(path)}</link>"
        f"<pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate>"
        f"<description>{summary}</description></item>"
        for title, path, summary in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Gazette</title><link>{site.base}</link>{entries}</channel></rss>"
    )


def test_url_html_article_uses_canonical_id_and_meta_date(site: LocalSite) -> None:
    head = (
        f'<link rel="canonical" href="{site.url("/news/bike-lanes")}">'
        '<meta property="article:published_time" content="2024-03-05T09:30:00+01:00">'
    )
    url = site.add("/news/bike-lanes?utm=feed", html_page("Council approves bike lanes", head=head))
    article = only_article(url)
    assert article.id == article.url == site.url("/news/bike-lanes")
    assert article.source == url
    assert article.published == "2024-03-05T09:30:00+01:00"
    assert article.title == "Council approves bike lanes"
    assert "twelve miles of protected bike lanes" in article.text


def test_rss_feed_yields_feedseen_then_entry_articles_and_404_skip(site: LocalSite) -> None:
    site.add("/news/lanes.html", html_page("Lanes page title"))
    storm = "Snow closed every school in the county on Friday."
    site.add("/news/storm.html", html_page("Storm page", body=f"<p>{storm}</p>"))
    feed_url = site.add(
        "/feed.xml",
        rss(
            site,
            [
                ("Council approves lanes", "/news/lanes.html", "Teaser."),
                ("Storm closes schools", "/news/storm.html", "Teaser."),
                ("Gone story", "/news/missing.html", "Short teaser."),
            ],
        ),
        content_type="application/rss+xml",
    )
    items = read(feed_url)
    assert items[0] == FeedSeen(url=feed_url)
    found = articles(items)
    assert [a.id for a in found] == [site.url("/news/lanes.html"), site.url("/news/storm.html")]
    assert [a.title for a in found] == ["Council approves lanes", "Storm closes schools"]
    assert found[0].published == "2024-03-05T09:30:00+00:00"
    assert "twelve miles" in found[0].text
    assert found[1].text == storm  # the page's nav links are not part of the text
    assert skips(items) == [
        Skipped(source=site.url("/news/missing.html"), reason="unreachable: HTTP 404 Not Found")
    ]


def test_atom_feed_is_sniffed_and_falls_back_to_entry_content(site: LocalSite) -> None:
    long_content = "The river rose three metres overnight and flooded the old town. " * 8
    atom = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!-- generated -->\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Gazette</title>'
        f'<entry><title>Flood</title><link href="{site.url("/gone/flood")}"/>'
        f"<id>urn:flood</id><updated>2024-03-06T08:00:00Z</updated>"
        f'<content type="html">&lt;p&gt;{long_content}&lt;/p&gt;</content></entry>'
        f'<entry><title>Teaser only</title><link href="{site.url("/gone/teaser")}"/>'
        "<id>urn:teaser</id><summary>Too short to stand alone.</summary></entry></feed>"
    )
    feed_url = site.add("/atom", atom, content_type="application/xml")
    items = read(feed_url)
    assert items[0] == FeedSeen(url=feed_url)
    flood = only_one(articles(items))
    assert flood.id == site.url("/gone/flood")
    assert flood.text == long_content.strip()
    assert flood.published == "2024-03-06T08:00:00+00:00"
    assert [s.source for s in skips(items)] == [site.url("/gone/teaser")]


def only_one(found: list[Article]) -> Article:
    assert len(found) == 1, found
    return found[0]


def test_plain_text_url_and_non_article_content_type(site: LocalSite) -> None:
    text_url = site.add("/story.txt", "Headline here\n\nBody here.", "text/plain; charset=utf-8")
    article = only_article(text_url)
    assert (article.id, article.title, article.text) == (text_url, "Headline here", "Body here.")
    image_url = site.add("/photo.png", b"\x89PNG\r\n\x1a\n", "image/png")
    assert only_skip(image_url) == Skipped(
        source=image_url, reason="not an article page (image/png)"
    )


def test_oversized_page_is_skipped(site: LocalSite) -> None:
    url = site.add("/huge", html_page("Huge", body="<p>" + "word " * 2000 + "</p>"))
    with Fetcher(reader_settings(), max_bytes=1000) as fetcher:
        items = list(iter_source(url, reader_settings(), fetcher=fetcher))
    assert items == [Skipped(source=url, reason="page larger than 1,000 bytes")]


def test_unreachable_url_is_skipped_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/news"
    started = time.monotonic()
    skipped = only_skip(url)
    assert time.monotonic() - started < 5
    assert skipped.source == url
    assert skipped.reason.startswith("unreachable:")


def test_slow_server_times_out(site: LocalSite) -> None:
    url = site.add("/slow", html_page("Slow"), delay=2.0)
    started = time.monotonic()
    skipped = read(url, http_timeout=0.3)
    assert time.monotonic() - started < 1.8
    assert skipped == [Skipped(source=url, reason="unreachable: timed out after 0.3s")]
