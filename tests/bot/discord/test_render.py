"""Unit tests for the pure Discord rendering (sizes, splitting, escaping)."""

from __future__ import annotations

import discord
import pytest

from citebot.bot.discord import render as render
from citebot.index.models import Answer, ArticleInfo, Citation, IndexStatus, IngestReport, Skipped

PASSAGE = (
    "Mayor de Blasio responded to a Gothamist reporter. On August 14, 2020, Gothamist "
    "reported that the NYPD used facial recognition in their investigation into Derrick "
    "Ingram. He is a Black Lives Matter activist."
)
SENTENCE = (
    "On August 14, 2020, Gothamist reported that the NYPD used facial recognition in "
    "their investigation into Derrick Ingram."
)


def citation(n: int = 1, *, passage: str = PASSAGE, sentence: str = SENTENCE, **kw) -> Citation:
    start = passage.find(sentence)
    values = {
        "n": n,
        "article_id": f"a{n}",
        "title": "NYC Mayor Will Reassess NYPD's Use of Facial Recognition Technology",
        "url": "https://example.org/nyc",
        "published": "2020-08-17T10:00:00Z",
        "passage": passage,
        "sentence": sentence,
        "sentence_span": (max(start, 0), max(start, 0) + len(sentence)),
        "score": 0.9,
    }
    values.update(kw)
    return Citation(**values)


def answer(text: str = f"{SENTENCE} [1]", n: int = 1, **kw) -> Answer:
    values = {
        "question": "Who is Derrick Ingram?",
        "text": text,
        "abstained": False,
        "citations": [citation(i + 1) for i in range(n)],
        "timings_ms": {"total": 812.0},
    }
    values.update(kw)
    return Answer(**values)


def check_page(page: render.Page) -> None:
    assert len(page.content or "") <= render.CONTENT_LIMIT
    assert len(page.embeds) <= render.EMBEDS_PER_MESSAGE
    assert sum(len(e) for e in page.embeds) <= render.EMBED_TOTAL_LIMIT
    for e in page.embeds:
        assert len(e.title or "") <= render.TITLE_LIMIT
        assert len(e.description or "") <= render.DESCRIPTION_LIMIT
        assert len(e.fields) <= render.FIELDS_PER_EMBED
        for f in e.fields:
            assert len(f.name or "") <= 256 and len(f.value or "") <= 1024


# ------------------------------------------------------------------ text helpers


@pytest.mark.parametrize("limit", [1, 7, 50, 100, 2000])
def test_split_text_respects_limit_and_loses_nothing(limit: int) -> None:
    text = ("First sentence here. Second one follows!\n\nA new paragraph with words. " * 40) + (
        "x" * 250
    )
    pieces = render.split_text(text, limit)
    assert all(0 < len(p) <= limit for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )


def test_split_text_prefers_natural_breaks() -> None:
    text = "Alpha beta gamma. " * 10 + "\n\n" + "Delta epsilon. " * 10
    pieces = render.split_text(text, 200)
    assert pieces[0].endswith("gamma.")
    assert pieces[1].startswith("Delta")


def test_split_text_short_text_is_one_piece() -> None:
    assert render.split_text("  hello  ", 10) == ["hello"]
    assert render.split_text("", 10) == []


def test_truncate() -> None:
    assert render.truncate("short", 10) == "short"
    cut = render.truncate("word " * 100, 50)
    assert len(cut) <= 50 and cut.endswith("…")
    assert len(render.truncate("abcdef", 1)) == 1


def test_safe_content_neutralises_mentions() -> None:
    text = render.safe_content("@everyone @here <@123456789012345678> <@&223456789012345678> hi")
    assert "@everyone" not in text and "@here" not in text
    assert "<@123456789012345678>" not in text and "<@&223456789012345678>" not in text
    assert "hi" in text


def test_thread_name_and_dates() -> None:
    assert render.thread_name("a\nb   c") == "a b c"
    assert len(render.thread_name("q" * 500)) <= 100
    assert render.format_date("2020-08-17T10:00:00Z") == "2020-08-17"
    assert render.format_date("Mon, 17 Aug 2020") == "Mon, 17 Aug 2020"
    assert render.format_date(None) is None
    assert render.discord_timestamp(1_600_000_000.5) == "<t:1600000000:R>"
    assert render.discord_timestamp(None) == "never"


# ------------------------------------------------------------------ answers


def test_short_answer_is_one_embed_with_sources() -> None:
    [page] = render.render_answer(answer(n=2))
    check_page(page)
    [embed] = page.embeds
    assert embed.title == "Who is Derrick Ingram?"
    assert "[1]" in (embed.description or "")
    assert [f.name for f in embed.fields] == [
        "[1] NYC Mayor Will Reassess NYPD's Use of Facial Recognition Technology",
        "[2] NYC Mayor Will Reassess NYPD's Use of Facial Recognition Technology",
    ]
    value = embed.fields[0].value or ""
    assert "2020-08-17" in value
    assert "[link](https://example.org/nyc)" in value
    assert f"> “{SENTENCE}”" in value
    assert "extractive" in (embed.footer.text or "") and "0.8 s" in (embed.footer.text or "")


def test_long_answer_is_split_across_messages_within_limits() -> None:
    long_text = " ".join(f"Sentence number {i} says something cited [1]." for i in range(400))
    pages = render.render_answer(answer(long_text, n=5), max_pages=10)
    assert len(pages) >= 4
    for page in pages:
        check_page(page)
    joined = " ".join(e.description or "" for p in pages for e in p.embeds)
    assert "Sentence number 0 " in joined and "Sentence number 399 " in joined
    assert pages[0].embeds[0].title == "Who is Derrick Ingram?"
    assert pages[-1].embeds[-1].fields, "sources come last"


def test_too_long_answer_is_truncated_with_pointer_to_sources() -> None:
    long_text = "word " * 10_000
    pages = render.render_answer(answer(long_text), max_pages=2)
    assert len(pages) <= 3  # two text pages, maybe one for the sources
    for page in pages:
        check_page(page)
    texts = [e.description or "" for p in pages for e in p.embeds]
    assert any("press **Sources**" in t for t in texts)


def test_sources_move_to_their_own_embed_when_they_do_not_fit() -> None:
    big = "x" * 900 + "."
    cites = [citation(i + 1, passage=big, sentence=big, title="T" * 250) for i in range(6)]
    text = "y " * 2000
    pages = render.render_answer(answer(text, citations=cites))
    for page in pages:
        check_page(page)
    assert pages[-1].embeds[0].title == "Sources"
    assert len(pages[-1].embeds[0].fields) == 6


def test_many_citations_are_capped_at_25_fields() -> None:
    pages = render.render_answer(answer(n=40))
    for page in pages:
        check_page(page)
    fields = pages[-1].embeds[-1].fields
    assert fields[-1].name == "More sources"
    assert "press **Sources**" in (fields[-1].value or "")
    assert fields[-2].name.startswith(f"[{len(fields) - 1}]")


def test_abstained_answer_shows_closest_passages() -> None:
    a = Answer(
        question="What is the weather on Mars?",
        text="The indexed articles don't say.",
        abstained=True,
        related=[citation(1)],
    )
    [page] = render.render_answer(a)
    embed = page.embeds[0]
    assert "Closest passages" in (embed.description or "")
    assert embed.colour == render.ABSTAIN_COLOUR
    assert embed.fields and embed.fields[0].name.startswith("[1]")


def test_answer_text_with_everyone_stays_in_embed() -> None:
    """Mentions in embeds never ping, so the answer text must live in an embed."""
    [page] = render.render_answer(answer("@everyone look [1]"))
    assert not page.content
    assert page.embeds[0].description == "@everyone look [1]"


class SpanAnswer(Answer):
    """An Answer with the optional phrase the reader marks as the answer."""

    answer_span: str | None = None


def test_answer_text_is_escaped_and_keeps_citation_markers() -> None:
    text = "# Big **claim** [1] and [see](https://evil.example) [2] > quote `x` ||s||"
    [page] = render.render_answer(answer(text, n=2))
    description = page.embeds[0].description or ""
    assert "[1]" in description and "[2]" in description
    assert "\\# Big \\*\\*claim\\*\\*" in description
    assert "\\[see](" in description and "\\`x\\`" in description
    assert "\\|\\|s\\|\\|" in description


def test_the_answer_span_is_bold_and_escaped() -> None:
    a = SpanAnswer(**answer("He is Derrick *D* Ingram, an activist [1].").model_dump())
    a.answer_span = "Derrick *D* Ingram"
    [page] = render.render_answer(a)
    assert page.embeds[0].description == "He is **Derrick \\*D\\* Ingram**, an activist [1]."
    a.answer_span = "not in the text"
    [page] = render.render_answer(a)
    assert "**" not in (page.embeds[0].description or "")


@pytest.mark.parametrize(
    "text",
    [
        "[click](https://evil.example)",
        "[click]( https://evil.example )",
        "[two\nlines](https://evil.example)",
        "[1](https://evil.example)",
        "![img](https://evil.example/i.png)",
        "[click](<https://evil.example>)",
    ],
)
def test_no_masked_link_survives(text: str) -> None:
    escaped = render.escape_text(text)
    assert escaped.startswith(("\\[", "!\\[")), escaped


def test_citation_markers_are_not_escaped() -> None:
    assert render.escape_text("a [1] b [12]. c [3][4]") == "a [1] b [12]. c [3][4]"


def test_escaped_cut_fits_and_leaves_no_dangling_backslash() -> None:
    for limit in range(5, 40):
        cut = render.escaped_cut("*" * 100, limit)
        assert len(cut) <= limit
        core = cut.removesuffix("…")
        assert (len(core) - len(core.rstrip("\\"))) % 2 == 0, cut


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/news/1", "https://example.org/news/1"),
        ("HTTPS://Example.org/a_(b)?q=[x]#f", "https://Example.org/a_%28b%29?q=%5Bx%5D#f"),
        ("https://example.org/caf\u00e9", "https://example.org/caf%C3%A9"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("javascript:alert(1)", None),
        ("/relative/path", None),
        ("https://example.org/a b", None),
        ("https://exa mple.org/", None),
        ("https://example.org:99999/", None),
        ("ftp://example.org/file", None),
        ("https://" + "a" * 2100 + ".org/", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert render.safe_url(url) == expected


def test_a_bad_feed_url_is_left_out_of_links_and_embeds() -> None:
    bad = answer(citations=[citation(url="javascript:alert(1)")])
    [page] = render.render_answer(bad)
    assert "javascript" not in (page.embeds[0].fields[0].value or "")
    [passages] = render.render_passages(bad)
    assert passages.embeds[0].url is None
    titles = render.render_articles([ArticleInfo(id="a", title="T", url="nope")], None, 1)
    assert "](" not in (titles.embeds[0].description or "")
    notice = render.render_new_articles(["a"], {"a": ArticleInfo(id="a", title="T", url="x y")})
    assert "<" not in notice


def test_titles_and_quotes_from_articles_are_escaped() -> None:
    c = citation(title="[Win](https://evil.example) *now*", sentence=SENTENCE + " **bold**")
    [page] = render.render_answer(answer(citations=[c]))
    field = page.embeds[0].fields[0]
    assert field.name.startswith("[1] \\[Win](") and "\\*now\\*" in field.name
    assert "\\*\\*bold\\*\\*" in (field.value or "")
    [passages] = render.render_passages(answer(citations=[c]))
    assert (passages.embeds[0].title or "").startswith("[1] \\[Win](")


def test_related_passages_show_behind_the_sources_button_only() -> None:
    other = citation(
        7,
        passage="A different passage about the NYPD.",
        sentence="A different passage about the NYPD.",
        title="Other article",
    )
    a = answer(n=1, related=[citation(1), other])  # the cited one may be repeated in related
    [page] = render.render_answer(a)
    assert [f.name[:3] for f in page.embeds[0].fields] == ["[1]"]
    pages = render.render_passages(a)
    embeds = [e for p in pages for e in p.embeds]
    assert [e.title for e in embeds] == [
        "[1] NYC Mayor Will Reassess NYPD's Use of Facial Recognition Technology",
        "Other article",
    ]
    assert "not cited" in (embeds[1].footer.text or "")


def test_public_message_hides_paths_addresses_and_pids() -> None:
    cases = {
        "cannot open the index in /srv/citebot/data (disk I/O error); move it away": (
            "cannot open the index in (path hidden) (disk I/O error); move it away"
        ),
        "another citebot process (pid 4242) is updating the index in ~/.local/share/citebot": (
            "another citebot process is updating the index in (path hidden)"
        ),
        "Chroma server at http://10.0.0.5:8000 is unreachable": (
            "Chroma server at (address hidden) is unreachable"
        ),
        "file C:\\Users\\ed\\news.txt is unreadable": "file (path hidden) is unreadable",
        "the question is empty: ask something about the indexed articles": (
            "the question is empty: ask something about the indexed articles"
        ),
        "add articles with `citebot index add PATH|URL` and/or feeds": (
            "add articles with `citebot index add PATH|URL` and/or feeds"
        ),
    }
    for text, public in cases.items():
        assert render.public_message(text) == public


def test_about_does_not_show_a_local_model_path() -> None:
    status = IndexStatus(
        articles=1, chunks=2, store="s", model="/opt/models/minilm", collection="c"
    )
    page = render.render_about(status, mode="extractive", feed_interval=0)
    values = {f.name: f.value for f in page.embeds[0].fields}
    assert values["Embedding model"] == "minilm"
    assert render.model_name("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


# ------------------------------------------------------------------ passages


def test_passages_highlight_the_cited_sentence() -> None:
    [page] = render.render_passages(answer())
    embed = page.embeds[0]
    assert f"**{SENTENCE}**" in (embed.description or "")
    assert embed.url == "https://example.org/nyc"
    assert "relevance 0.90" in (embed.footer.text or "")


def test_passages_pack_into_messages_within_limits() -> None:
    long_passage = ("A long passage sentence. " * 200)[:3900]
    cites = [
        citation(i + 1, passage=long_passage, sentence="A long passage sentence.")
        for i in range(12)
    ]
    pages = render.render_passages(answer(citations=cites))
    assert len(pages) >= 6
    for page in pages:
        check_page(page)
    assert sum(len(p.embeds) for p in pages) == 12


def test_passages_escape_markdown_and_survive_bad_spans() -> None:
    c = citation(passage="*not bold* and __x__", sentence="zzz", sentence_span=(50, 60))
    [page] = render.render_passages(answer(citations=[c]))
    assert "\\*not bold\\*" in (page.embeds[0].description or "")


def test_no_sources() -> None:
    [page] = render.render_passages(answer(citations=[]))
    assert page.content and not page.embeds


# ------------------------------------------------------------------ other renders


def test_articles_list_fits_one_embed() -> None:
    infos = [
        ArticleInfo(
            id=f"id{i}",
            title=f"Article number {i} " + "t" * 100,
            url=f"https://example.org/{i}",
            published=f"2024-01-0{i % 9 + 1}",
        )
        for i in range(100)
    ]
    page = render.render_articles(infos, None, 100)
    check_page(page)
    embed = page.embeds[0]
    assert (embed.description or "").startswith("• [Article number 0")
    assert "showing" in (embed.footer.text or "") and "of 100" in (embed.footer.text or "")
    empty = render.render_articles([], "zebra", None)
    assert "No matching articles" in (empty.embeds[0].description or "")
    assert "zebra" in (empty.embeds[0].title or "")


def test_about() -> None:
    status = IndexStatus(
        articles=3,
        chunks=12,
        store="chroma",
        model="m",
        collection="c",
        last_update=1_700_000_000,
        feeds=["https://f"],
    )
    page = render.render_about(status, mode="extractive", feed_interval=900)
    check_page(page)
    values = {f.name: f.value for f in page.embeds[0].fields}
    assert values["Articles"] == "3" and values["Passages"] == "12"
    assert values["Last update"] == "<t:1700000000:R>"
    assert "15 min" in (values["Feeds"] or "")


def test_reindex_summary_is_short() -> None:
    report = IngestReport(
        added=[f"a{i}" for i in range(500)],
        unchanged=["u"],
        skipped=[Skipped(source="bad.txt", reason="empty")],
        seconds=2.5,
    )
    titles = {"a0": ArticleInfo(id="a0", title="First @everyone")}
    text = render.render_reindex(report, titles)
    assert len(text) <= render.CONTENT_LIMIT
    assert text.startswith("🔄 Reindex finished in 2.5 s: 500 added")
    assert "First" in text and "@everyone" not in text
    assert "1 skipped (reasons in the bot's log)" in text
    assert "bad.txt" not in text  # which file (a path on the host) is for the log
    assert "Nothing new" in render.render_reindex(IngestReport())
    headlines = render.render_reindex(IngestReport(added=["v"], headline_only=["v"]))
    assert "1 added, 0 updated, 0 removed, 0 unchanged (1 headline only" in headlines


def test_new_article_notice() -> None:
    titles = {
        "a": ArticleInfo(
            id="a", title="Ferry adds night service", url="https://x/a", published="2024-05-01"
        ),
    }
    text = render.render_new_articles(["a", "b", "c", "d", "e", "f", "g"], titles)
    lines = text.splitlines()
    assert lines[0] == (
        "📰 New article indexed: **Ferry adds night service** (2024-05-01) <https://x/a>"
    )
    assert lines[1] == "📰 New article indexed: **b**"
    assert lines[-1] == "…and 2 more."
    assert len(text) <= render.CONTENT_LIMIT


def test_embeds_are_real_discord_embeds() -> None:
    [page] = render.render_answer(answer())
    assert isinstance(page.embeds[0], discord.Embed)
    assert page.embeds[0].to_dict()["fields"]
