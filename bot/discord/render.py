"""Turn citebot results into Discord messages: pure functions, no I/O.

Why a separate module: Discord's size rules (2,000 characters of content,
4,096 per embed description, 1,024 per field, 6,000 for all embeds of one
message, 10 embeds, 25 fields) are easy to get subtly wrong, and a message that
breaks them is rejected outright — the user then gets nothing. Keeping the
rendering pure makes those rules unit-testable without a gateway, and keeps the
core (``index/``) unaware of Discord.

Everything that comes from articles, feeds or an LLM is untrusted text: it is
shown with its markdown escaped (no fake headings, no masked links hiding
where they point) and URLs go into links and embeds only after ``safe_url``
(one malformed URL would make Discord reject the whole message). Error text
goes through ``public_message``: file paths, addresses and process ids are
for the log, not for Discord users.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from urllib.parse import quote, urlsplit, urlunsplit

import discord

from citebot.index import Answer, ArticleInfo, Citation, IndexStatus, IngestReport

CONTENT_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
TITLE_LIMIT = 256
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
FIELDS_PER_EMBED = 25
THREAD_NAME_LIMIT = 100

ELLIPSIS = "…"
SOURCES_POINTER = "\n\n*(answer shortened — press **Sources** for the full passages)*"
COLOUR = discord.Colour.blurple()
ABSTAIN_COLOUR = discord.Colour.light_grey()


@dataclass
class Page:
    """One Discord message: optional content plus embeds, all within limits."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)


# --------------------------------------------------------------------------- text


def truncate(text: str, limit: int, suffix: str = ELLIPSIS) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with ``suffix`` if cut."""
    if len(text) <= limit:
        return text
    if limit <= len(suffix):
        return text[:limit]
    cut = text[: limit - len(suffix)]
    # Prefer not to end mid-word when a space is reasonably close.
    space = cut.rfind(" ")
    if space > len(cut) * 0.8:
        cut = cut[:space]
    return cut.rstrip() + suffix


_BREAKS = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters.

    Breaks at the most natural boundary available (paragraph, line, sentence,
    word) in the last half of each piece, and hard-splits only when a single
    "word" is longer than the limit. No text is lost: joining the pieces
    gives back the original apart from whitespace at the breaks.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for brk in _BREAKS:
            at = window.rfind(brk)
            if at >= limit // 2:
                cut = at + len(brk.rstrip()) if brk.strip() else at
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def safe_content(text: str) -> str:
    """Neutralise @everyone/@here and user/role mentions in plain content.

    ``AllowedMentions.none()`` already stops pings; this also keeps the text
    from *looking* like a ping when it echoes user or article text.
    """
    return discord.utils.escape_mentions(text)


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# A "[" that opens anything but a citation marker "[n]" (one not followed by
# "(", which would make it a masked link).
_OPEN_BRACKET = re.compile(r"(?<!\\)\[(?!\d{1,3}\](?!\())")


def escape_text(text: str) -> str:
    """Untrusted text (articles, LLM output) shown as written, never as markdown.

    ``discord.utils.escape_markdown`` handles emphasis, code, spoilers, quotes,
    headings, lists and most masked links; any other "[" is escaped too, so no
    masked link survives, while citation markers like ``[2]`` stay as they are.
    """
    return _OPEN_BRACKET.sub(r"\\[", discord.utils.escape_markdown(text))


def escaped_cut(text: str, limit: int) -> str:
    """``escape_text`` of ``text`` cut to fit ``limit`` characters *after* escaping
    (cut first, so no dangling backslash swallows the ellipsis)."""
    room = limit
    while True:
        out = escape_text(truncate(text, room))
        if len(out) <= limit or room <= 1:
            return out[:limit]
        room -= len(out) - limit


def emphasize(text: str, phrase: str | None) -> str:
    """``escape_text(text)`` with the first occurrence of ``phrase`` in bold."""
    at = text.find(phrase) if phrase and phrase.strip() else -1
    if at < 0:
        return escape_text(text)
    end = at + len(phrase or "")
    before, bold, after = text[:at], text[at:end], text[end:]
    return f"{escape_text(before)}**{escape_text(bold)}**{escape_text(after)}"


URL_LIMIT = 2048
_PATH_SAFE = "/%:@!$&'*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL that is safe in an embed and inside ``[text](url)``; else None.

    Feeds carry all sorts of links: relative ones, ``javascript:``, spaces,
    brackets and parentheses that end a markdown link early. Such a URL is
    left out (the source still shows, without a link) rather than making
    Discord reject the message.
    """
    if not url:
        return None
    url = url.strip()
    if len(url) > URL_LIMIT or any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port  # raises ValueError when malformed
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    try:
        host.encode("idna")
    except UnicodeError:
        return None
    if port is not None and not 0 < port < 65536:
        return None
    if any(ch in parts.netloc for ch in "()<>[]\\`\"'") and not parts.netloc.startswith("["):
        return None
    cleaned = urlunsplit(
        (
            parts.scheme.lower(),
            parts.netloc,
            quote(parts.path, safe=_PATH_SAFE),
            quote(parts.query, safe=_QUERY_SAFE),
            quote(parts.fragment, safe=_QUERY_SAFE),
        )
    )
    return cleaned if len(cleaned) <= URL_LIMIT else None


_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_PATH_IN_TEXT = re.compile(
    r"(?<![\w/.:~-])(?:~|\.{1,2})?/[^\s'\"<>():;,]+(?:/[^\s'\"<>():;,]*)*"
    r"|\b[A-Za-z]:\\[^\s'\"<>]+"
)
_PID_IN_TEXT = re.compile(r"\s*\(?\bpid\s*\d+\)?", re.IGNORECASE)


def public_message(text: str) -> str:
    """Error text for Discord users: addresses, file paths and process ids removed.

    They help whoever runs the bot, who finds the full message in the log, and
    tell a stranger on the server how the host is laid out.
    """
    text = _URL_IN_TEXT.sub("(address hidden)", text)
    text = _PATH_IN_TEXT.sub("(path hidden)", text)
    return _PID_IN_TEXT.sub("", text)


def model_name(model: str) -> str:
    """An embedding model label without the local folder it may live in."""
    if model.startswith(("/", "~", "./", "../")) or re.match(r"^[A-Za-z]:[\\/]", model):
        return PurePath(model.replace("\\", "/")).name or "local model"
    return model


def format_date(published: str | None) -> str | None:
    """Show the date part of ISO timestamps; other strings pass through shortened."""
    if not published:
        return None
    value = published.strip()
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return truncate(value, 40)


def discord_timestamp(epoch: float | None) -> str:
    """Discord renders ``<t:…:R>`` in each reader's timezone ("3 hours ago")."""
    if not epoch:
        return "never"
    return f"<t:{int(epoch)}:R>"


def thread_name(question: str) -> str:
    name = one_line(question) or "citebot"
    return truncate(name, THREAD_NAME_LIMIT)


# ------------------------------------------------------------------------ answers


def _title(c: Citation | ArticleInfo, limit: int) -> str:
    """An article title, escaped, in at most ``limit`` characters."""
    return escaped_cut(one_line(c.title) or "Untitled", limit)


def _source_field(c: Citation, quote_limit: int = FIELD_VALUE_LIMIT) -> tuple[str, str]:
    name = f"[{c.n}] {_title(c, FIELD_NAME_LIMIT - len(f'[{c.n}] '))}"
    meta = [d for d in (format_date(c.published),) if d]
    url = safe_url(c.url)
    if url:
        meta.append(f"[link]({url})")
    head = " · ".join(meta)
    quote_room = min(quote_limit, FIELD_VALUE_LIMIT - len(head) - 6)
    sentence = escaped_cut(one_line(c.sentence), max(20, quote_room))
    quote = f"> “{sentence}”" if c.sentence else ""
    value = "\n".join(part for part in (head, quote) if part) or "—"
    return name, truncate(value, FIELD_VALUE_LIMIT)


_QUOTE_LIMITS = (FIELD_VALUE_LIMIT, 400, 200, 100)


def _source_fields(cited: Sequence[Citation], budget: int) -> list[tuple[str, str]]:
    """Fields for the numbered sources, fitted into ``budget`` characters.

    Quotes are shortened first; if even short quotes do not fit, the last
    sources are left out with a note pointing to the Sources button.
    """
    cited = list(cited)
    for limit in _QUOTE_LIMITS:
        fields = [_source_field(c, limit) for c in cited[:FIELDS_PER_EMBED]]
        if len(cited) <= FIELDS_PER_EMBED and _size(fields) <= budget:
            return fields
    fields = [_source_field(c, _QUOTE_LIMITS[-1]) for c in cited]
    while fields:
        more = len(cited) - len(fields) + 1
        note = ("More sources", f"{more} more — press **Sources** to see them all.")
        kept = [*fields[:-1], note]
        if len(kept) <= FIELDS_PER_EMBED and _size(kept) <= budget:
            return kept
        fields.pop()
    return []


def _size(fields: Sequence[tuple[str, str]]) -> int:
    return sum(len(n) + len(v) for n, v in fields)


def _footer(answer: Answer) -> str:
    parts = [f"{answer.mode} answer"]
    total = answer.timings_ms.get("total")
    if total is not None:
        parts.append(f"{total / 1000:.1f} s")
    if answer.resolved_question and answer.resolved_question != answer.question:
        parts.append(f"understood as: {one_line(answer.resolved_question)}")
    return truncate(" · ".join(parts), FOOTER_LIMIT)


def render_answer(answer: Answer, *, max_pages: int = 3) -> list[Page]:
    """Answer -> one or more messages: text with ``[n]`` markers, then sources.

    The first embed carries the question as its title and the answer as its
    description; the numbered sources (title, date, link, quoted sentence) are
    fields of the last embed. Long answers continue in further messages, up to
    ``max_pages``; beyond that the text is shortened with a pointer to the
    Sources button (which shows the full passages).
    """
    cited = _shown_sources(answer)
    title = escaped_cut(one_line(answer.question), TITLE_LIMIT)
    footer = _footer(answer)
    # The sources must fit one embed on their own (with a "Sources" title).
    fields = _source_fields(cited, EMBED_TOTAL_LIMIT - len("Sources") - len(footer))
    fields_len = _size(fields)
    colour = ABSTAIN_COLOUR if answer.abstained else COLOUR
    body = emphasize(answer.text.strip(), _answer_span(answer)) or "(no answer)"
    if answer.abstained and answer.related and not answer.citations:
        body += "\n\n**Closest passages** are listed below."

    # Room for text in an embed that also holds the title, fields and footer.
    room_last = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - len(title) - fields_len - len(footer))
    if len(body) <= room_last:
        chunks = [body]
    else:
        chunks = [_whole_escapes(c) for c in split_text(body, DESCRIPTION_LIMIT - 1)]
        if len(chunks) > max_pages:
            chunks = chunks[:max_pages]
            cut = truncate(chunks[-1], DESCRIPTION_LIMIT - len(SOURCES_POINTER) - 1)
            chunks[-1] = _whole_escapes(cut) + SOURCES_POINTER

    embeds = []
    for i, chunk in enumerate(chunks):
        embed = discord.Embed(description=chunk, colour=colour)
        if i == 0:
            embed.title = title
        embeds.append(embed)

    last = embeds[-1]
    if len(last) + fields_len + len(footer) > EMBED_TOTAL_LIMIT:
        last = discord.Embed(title="Sources", colour=colour)
        embeds.append(last)
    for name, value in fields:
        last.add_field(name=name, value=value, inline=False)
    last.set_footer(text=footer)
    return [Page(embeds=[e]) for e in embeds]


def _answer_span(answer: Answer) -> str | None:
    """The phrase that answers the question, when the answerer names one."""
    span = getattr(answer, "answer_span", None)
    return span if isinstance(span, str) else None


def _shown_sources(answer: Answer) -> list[Citation]:
    """The numbered sources under an answer: those it cites, or when it
    abstains, the closest passages it offers instead."""
    if answer.citations:
        return list(answer.citations)
    return list(answer.related) if answer.abstained else []


def _whole_escapes(piece: str) -> str:
    """Drop a backslash left dangling at the end of a cut (it would escape what follows)."""
    core = piece.removesuffix(ELLIPSIS)
    trailing = len(core) - len(core.rstrip("\\"))
    if trailing % 2:
        core = core[:-1]
    return core + piece[len(piece.removesuffix(ELLIPSIS)) :]


def _highlight(c: Citation) -> str:
    """Passage with the cited sentence in bold (markdown in the rest escaped)."""
    start, end = c.sentence_span
    passage = c.passage
    if not (0 <= start < end <= len(passage)):
        return escape_text(passage)
    esc = escape_text
    return esc(passage[:start]) + "**" + esc(passage[start:end]) + "**" + esc(passage[end:])


def _related_passages(answer: Answer) -> list[Citation]:
    """Retrieved passages the answer does not cite (shown after the cited ones)."""
    if not answer.citations:
        return []
    cited = {(c.article_id, c.passage) for c in answer.citations}
    return [r for r in answer.related if (r.article_id, r.passage) not in cited]


def render_passages(answer: Answer) -> list[Page]:
    """The full passages behind an answer, for the ephemeral Sources view.

    The cited passages come first, numbered as in the answer; then any other
    passages retrieved for the question (``Answer.related``), marked as such.
    """
    shown = [(c, True) for c in _shown_sources(answer)]
    shown += [(c, False) for c in _related_passages(answer)]
    if not shown:
        return [Page(content="This answer has no sources to show.")]
    pages: list[Page] = []
    current = Page()
    size = 0
    for c, numbered in shown:
        label = f"[{c.n}] " if numbered else ""
        embed = discord.Embed(
            title=label + _title(c, TITLE_LIMIT - len(label)),
            url=safe_url(c.url),
            description=_whole_escapes(truncate(_highlight(c), DESCRIPTION_LIMIT - 1)),
            colour=COLOUR if numbered else ABSTAIN_COLOUR,
        )
        meta = [] if numbered else ["also retrieved, not cited"]
        meta += [d for d in (format_date(c.published),) if d]
        meta.append(f"relevance {c.score:.2f}")
        embed.set_footer(text=" · ".join(meta))
        n = len(embed)
        if current.embeds and (
            size + n > EMBED_TOTAL_LIMIT or len(current.embeds) >= EMBEDS_PER_MESSAGE
        ):
            pages.append(current)
            current, size = Page(), 0
        current.embeds.append(embed)
        size += n
    pages.append(current)
    return pages


# ----------------------------------------------------------------- other commands


def render_articles(articles: Sequence[ArticleInfo], query: str | None, total: int | None) -> Page:
    """``/articles``: one line per article (linked title, date)."""
    heading = f"Articles matching “{escaped_cut(one_line(query), 80)}”" if query else None
    heading = heading or "Indexed articles"
    embed = discord.Embed(title=heading, colour=COLOUR)
    if not articles:
        embed.description = "No matching articles." if query else "No articles indexed yet."
        return Page(embeds=[embed])
    lines: list[str] = []
    used = 0
    shown = 0
    for a in articles:
        title = escaped_cut(one_line(a.title) or a.id, 120)
        url = safe_url(a.url)
        line = f"• [{title}]({url})" if url else f"• {title}"
        date = format_date(a.published)
        if date:
            line += f" — {date}"
        if used + len(line) + 1 > DESCRIPTION_LIMIT - 60:
            break
        lines.append(line)
        used += len(line) + 1
        shown += 1
    embed.description = "\n".join(lines)
    count = total if total is not None else len(articles)
    embed.set_footer(text=f"showing {shown} of {count}")
    return Page(embeds=[embed])


HOW_IT_WORKS = (
    "Ask with `/ask` or by mentioning me. I search the indexed news articles, "
    "pick the passages that answer the question and quote them: every claim carries "
    "a number `[n]` pointing to the article and the exact sentence it came from. "
    "Press **Sources** to read the full passages, and keep asking in the thread "
    "that opens under an answer — I remember what was said there. "
    "When the articles don't contain an answer, I say so instead of guessing."
)


def render_about(status: IndexStatus, *, mode: str, feed_interval: float) -> Page:
    """``/about``: what the bot knows and how it works."""
    embed = discord.Embed(title="About citebot", description=HOW_IT_WORKS, colour=COLOUR)
    embed.add_field(name="Articles", value=str(status.articles))
    embed.add_field(name="Passages", value=str(status.chunks))
    embed.add_field(name="Last update", value=discord_timestamp(status.last_update))
    embed.add_field(name="Answer mode", value=mode)
    model = escaped_cut(model_name(status.model), FIELD_VALUE_LIMIT)
    embed.add_field(name="Embedding model", value=model)
    feeds = f"{len(status.feeds)} feed(s)"
    if feed_interval > 0:
        feeds += f", checked every {_duration(feed_interval)}"
    embed.add_field(name="Feeds", value=feeds)
    return Page(embeds=[embed])


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds:g} s"


def _titles(ids: Sequence[str], titles: dict[str, ArticleInfo]) -> list[str]:
    return [escaped_cut(one_line(titles[i].title if i in titles else i), 200) for i in ids]


def render_reindex(report: IngestReport, titles: dict[str, ArticleInfo] | None = None) -> str:
    """``/reindex`` outcome as one short message (≤ 2,000 characters)."""
    titles = titles or {}
    counts = (
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged"
    )
    if report.skipped:
        # Which file or URL failed, and why, is for whoever runs the bot: it is logged.
        counts += f", {len(report.skipped)} skipped (reasons in the bot's log)"
    if report.headline_only:
        counts += f" ({len(report.headline_only)} headline only: no body text found)"
    text = f"🔄 Reindex finished in {report.seconds:.1f} s: {counts}."
    if not report.changed:
        text += " Nothing new."
    for label, ids in (("Added", report.added), ("Updated", report.updated)):
        if ids:
            text += f"\n**{label}:** " + "; ".join(_titles(ids, titles))
    return truncate(safe_content(text), CONTENT_LIMIT)


def render_new_articles(
    added: Sequence[str], titles: dict[str, ArticleInfo], *, show: int = 5
) -> str:
    """Short "new article indexed" notice for the configured channel."""
    lines = []
    for article_id in added[:show]:
        info = titles.get(article_id)
        if info is None:
            lines.append(f"📰 New article indexed: **{escaped_cut(one_line(article_id), 200)}**")
            continue
        line = f"📰 New article indexed: **{escaped_cut(one_line(info.title), 200)}**"
        date = format_date(info.published)
        if date:
            line += f" ({date})"
        url = safe_url(info.url)
        if url:
            line += f" <{url}>"
        lines.append(line)
    if len(added) > show:
        lines.append(f"…and {len(added) - show} more.")
    return truncate(safe_content("\n".join(lines)), CONTENT_LIMIT)
