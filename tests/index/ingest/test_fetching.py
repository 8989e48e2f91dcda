"""Fetching URLs and feeds: a real total deadline, public addresses only, polite pulls.

Real parts throughout: the fetcher talks to local HTTP servers (tests/fakes/http_site)
that drip, redirect, delay and answer conditional requests. The servers run on
loopback, so tests that need a "public" first hop run one on 127.0.0.2 and tell the
address policy to treat exactly that address as public.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib.metadata import version
from ipaddress import IPv4Address, ip_address
from typing import Any
from urllib.parse import urlsplit

import pytest

from citebot.index.errors import SourceError
from citebot.index.ingest.readers import (
    EntryUnchanged,
    FeedMemory,
    FeedSeen,
    Fetcher,
    Item,
    addresses,
    iter_source,
)
from citebot.index.ingest.readers.html_pages import usable_canonical
from citebot.index.models import Article, Skipped
from citebot.index.settings import Settings
from tests.conftest import ExplicitSettings, news_text
from tests.fakes.http_site import LocalServer, LocalSite

ALLOW_HINT = "set CITEBOT_ALLOW_PRIVATE_URLS=true to read addresses inside your network"


def fetch_settings(**overrides: Any) -> Settings:
    """Settings for the tests' 127.0.0.1 servers (private URLs allowed unless overridden)."""
    return ExplicitSettings(**{"allow_private_urls": True, **overrides})


def read(url: str, **overrides: Any) -> list[Item]:
    return list(iter_source(url, fetch_settings(**overrides)))


def page(n: int) -> str:
    title, body = news_text(n)
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{body}</p></article></body></html>"
    )


def rss(site: LocalSite, paths: list[str], dates: dict[str, str] | None = None) -> str:
    items = "".join(
        f"<item><title>Story {p}</title><link>{site.url(p)}</link><guid>{site.url(p)}</guid>"
        f"<pubDate>{(dates or {}).get(p, 'Tue, 05 Mar 2024 09:30:00 GMT')}</pubDate></item>"
        for p in paths
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Gazette'
        f"</title><link>{site.base}</link>{items}</channel></rss>"
    )


def articles(items: list[Item]) -> list[Article]:
    return [item for item in items if isinstance(item, Article)]


@pytest.fixture
def public_site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSite]:
    """A server on 127.0.0.2 that the address policy treats as a public site."""
    real = addresses.address_problem

    def problem(ip: Any) -> str | None:
        return None if ip == IPv4Address("127.0.0.2") else real(ip)

    monkeypatch.setattr(addresses, "address_problem", problem)
    with LocalServer("127.0.0.2") as running:
        yield running


# ---- a total deadline, enforced while streaming ----------------------------------------


@pytest.mark.parametrize("drip_head", [False, True], ids=["body", "headers"])
def test_a_dripping_server_gives_up_within_the_deadline(site: LocalSite, drip_head: bool) -> None:
    """One byte every 0.1 s never trips a per-read timeout; the total deadline must."""
    url = site.add("/drip", page(1), drip=0.1, drip_head=drip_head)  # ~20 s to send it all
    with Fetcher(fetch_settings(http_timeout=1)) as fetcher:
        fetcher.fetch(site.add("/warm-up", "ok", "text/plain"))  # client set up outside the clock
        started = time.monotonic()
        with pytest.raises(SourceError) as failed:
            fetcher.fetch(url)
        elapsed = time.monotonic() - started
    assert failed.value.message == "unreachable: timed out after 1s"
    assert elapsed < 6, f"a 1 s deadline took {elapsed:.1f}s"


def test_the_deadline_covers_every_redirect_hop(site: LocalSite) -> None:
    """Each hop is slow but within a per-request timeout; together they exceed the deadline."""
    for n in range(4):
        site.redirect(f"/hop{n}", site.url(f"/hop{n + 1}"), delay=0.6)
    site.add("/hop4", page(2))
    items = read(site.url("/hop0"), http_timeout=1.5)
    assert items == [Skipped(source=site.url("/hop0"), reason="unreachable: timed out after 1.5s")]
    assert "/hop4" not in site.hits


# ---- public addresses only -------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.0.10", "a private address"),
        ("100.64.0.1", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("2002:7f00:1::", "a loopback address"),
        ("64:ff9b::a9fe:a9fe", "a link-local address"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_policy(address: str, problem: str | None) -> None:
    assert addresses.address_problem(ip_address(address)) == problem


def test_a_loopback_url_is_refused_without_the_flag(site: LocalSite) -> None:
    url = site.add("/story", page(3))
    reason = f"refused: 127.0.0.1 is a loopback address; {ALLOW_HINT}"
    assert list(iter_source(url, ExplicitSettings())) == [Skipped(source=url, reason=reason)]
    assert site.hits == []
    assert isinstance(read(url)[0], Article)  # CITEBOT_ALLOW_PRIVATE_URLS=true reads it


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("/admin", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://localhost:{port}/admin", "localhost (127.0.0.1) is a loopback address"),
    ],
)
def test_a_redirect_to_an_inside_address_is_refused(
    site: LocalSite, public_site: LocalSite, target: str, shown: str
) -> None:
    site.add("/admin", page(4))  # what only this machine can reach
    port = urlsplit(site.base).port
    location = site.url(target) if target.startswith("/") else target.format(port=port)
    url = public_site.redirect("/story", location)
    reason = f"refused: {shown} (reached by a redirect); {ALLOW_HINT}"
    assert list(iter_source(url, ExplicitSettings())) == [Skipped(source=url, reason=reason)]
    assert public_site.hits == ["/story"] and site.hits == []


def test_a_redirect_to_another_scheme_is_refused(site: LocalSite) -> None:
    url = site.redirect("/story", "file:///etc/passwd")
    reason = "refused: only http and https addresses are read (reached by a redirect)"
    assert read(url) == [Skipped(source=url, reason=reason)]


def test_feed_entries_pointing_inside_are_refused(site: LocalSite, public_site: LocalSite) -> None:
    site.add("/admin", page(5))
    public_site.add("/news/1.html", page(6))
    links = [public_site.url("/news/1.html"), site.url("/admin"), "http://10.0.0.1/router"]
    items_xml = "".join(
        f"<item><title>T{n}</title><link>{u}</link></item>" for n, u in enumerate(links)
    )
    feed = public_site.add(
        "/feed.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>G</title>{items_xml}'
        "</channel></rss>",
        "application/rss+xml",
    )
    items = list(iter_source(feed, ExplicitSettings()))
    assert [a.id for a in articles(items)] == [links[0]]
    assert [(s.source, s.reason.split(";")[0]) for s in items if isinstance(s, Skipped)] == [
        (links[1], "refused: 127.0.0.1 is a loopback address"),
        (links[2], "refused: 10.0.0.1 is a private address"),
    ]
    assert site.hits == []


def test_a_name_is_looked_up_once_and_the_checked_address_is_the_one_connected(
    site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No second lookup between the check and the connection (DNS rebinding)."""
    lookups: list[str] = []
    real = addresses.resolve

    def resolve(host: str, port: int, timeout: float | None) -> list[Any]:
        lookups.append(host)
        return [IPv4Address("127.0.0.1")] if host == "news.example" else real(host, port, timeout)

    monkeypatch.setattr(addresses, "resolve", resolve)
    port = urlsplit(site.base).port
    site.add("/story", page(7))
    url = f"http://news.example:{port}/story"
    assert [a.id for a in articles(read(url))] == [url]
    assert lookups == ["news.example"]
    assert site.requests[0]["Host"] == f"news.example:{port}"
    reason = f"refused: news.example (127.0.0.1) is a loopback address; {ALLOW_HINT}"
    assert list(iter_source(url, ExplicitSettings())) == [Skipped(source=url, reason=reason)]


# ---- polite pulls -------------------------------------------------------------------------


def test_requests_name_citebot_and_its_version(site: LocalSite) -> None:
    url = site.add("/story.txt", "Headline\n\nThe body of the story.", "text/plain")
    read(url)
    assert site.requests[0]["User-Agent"].startswith(f"citebot/{version('citebot')} (")


def test_feed_pages_are_fetched_at_most_two_at_a_time_per_site(site: LocalSite) -> None:
    paths = [f"/news/{n}.html" for n in range(6)]
    for n, path in enumerate(paths):
        site.add(path, page(n), delay=0.4)
    feed = site.add("/feed.xml", rss(site, paths), "application/rss+xml")
    items = read(feed)
    assert len(articles(items)) == 6
    assert site.max_in_flight <= 2


def test_a_pull_reads_at_most_feed_max_entries(site: LocalSite) -> None:
    paths = [f"/news/{n}.html" for n in range(5)]
    for n, path in enumerate(paths):
        site.add(path, page(n))
    feed = site.add("/feed.xml", rss(site, paths), "application/rss+xml")
    items = read(feed, feed_max_entries=2)
    assert [a.id for a in articles(items)] == [site.url(p) for p in paths[:2]]
    assert sorted(site.hits) == sorted(["/feed.xml", *paths[:2]])


def test_known_entries_are_fetched_again_only_when_the_feed_changes_them(site: LocalSite) -> None:
    paths = ["/news/1.html", "/news/2.html"]
    for n, path in enumerate(paths):
        site.add(path, page(n))
    feed = site.add("/feed.xml", rss(site, paths), "application/rss+xml")
    first = articles(read(feed))
    assert all(a.feed_entry for a in first)
    memory = FeedMemory(entries={a.id: a.feed_entry for a in first if a.feed_entry})

    site.clear()
    again = list(iter_source(feed, fetch_settings(), memory=memory))
    assert again[1:] == [EntryUnchanged(site.url(p)) for p in paths]
    assert site.hits == ["/feed.xml"]

    site.clear()
    site.add("/feed.xml", rss(site, paths, {paths[1]: "Wed, 06 Mar 2024 10:00:00 GMT"}))
    changed = list(iter_source(feed, fetch_settings(), memory=memory))
    assert changed[1] == EntryUnchanged(site.url(paths[0]))
    assert [a.id for a in articles(changed)] == [site.url(paths[1])]
    assert site.hits == ["/feed.xml", paths[1]]


def test_the_feed_is_fetched_conditionally_with_its_etag(site: LocalSite) -> None:
    site.add("/news/1.html", page(1))
    feed = site.add("/feed.xml", rss(site, ["/news/1.html"]), "application/rss+xml", etag='"v1"')
    first = read(feed)
    assert first[0] == FeedSeen(url=feed, etag='"v1"')

    site.clear()
    memory = FeedMemory(validators={feed: first[0].validators})  # type: ignore[union-attr]
    again = list(iter_source(feed, fetch_settings(), memory=memory))
    assert again == [FeedSeen(url=feed, not_modified=True)]
    assert site.hits == ["/feed.xml"] and site.requests[0]["If-None-Match"] == '"v1"'


# ---- canonical links -----------------------------------------------------------------------


def test_a_canonical_link_to_another_site_does_not_become_the_id(site: LocalSite) -> None:
    head = '<link rel="canonical" href="https://www.bbc.co.uk/news/world-12345">'
    url = site.add("/copy", page(8).replace("</head>", head + "</head>"))
    [article] = articles(read(url))
    assert article.id == article.url == url


@pytest.mark.parametrize(
    ("canonical", "page_url", "kept"),
    [
        ("https://www.example.com/a/1", "https://example.com/a/1?utm=x", True),
        ("https://www.example.co.uk/a/1", "https://amp.example.co.uk/a/1", True),
        ("https://victim.example/a/1", "https://example.com/a/1", False),
        ("https://victim.github.io/a/1", "https://evil.github.io/a/1", False),
        ("http://10.0.0.1/a/1", "http://127.0.0.1:8000/a/1", False),
    ],
)
def test_canonical_links_are_kept_only_on_the_same_site(
    canonical: str, page_url: str, kept: bool
) -> None:
    assert usable_canonical(canonical, page_url) == (canonical if kept else None)
