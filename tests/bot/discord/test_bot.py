"""End-to-end: the real discord.py client against the fake Discord server.

Each test starts a fake Discord on 127.0.0.1 and a ``CitebotClient`` that logs
in over HTTP and the gateway websocket, then plays users (slash commands,
messages, button clicks) and asserts on the REST calls the bot made. The
Library is the real one over the bundled seed article.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from citebot.index import Answer, Citation, Library, StoreError, StoreLockedError
from tests.bot.discord import fixtures as discord_fixtures
from tests.bot.discord.fixtures import Shared, button_ids, embeds_text, running_bot
from tests.conftest import SEED, write_article
from tests.fakes.discord_server import Call, FakeDiscord, FakeInteraction
from tests.fakes.drip_server import DripServer

pytestmark = pytest.mark.timeout(60)
shared_library = discord_fixtures.shared_library  # the session-scoped real Library
own_library = discord_fixtures.own_library  # a fresh Library for tests that change it

QUESTION = "Who is Derrick Ingram?"
SOURCE_TITLE = "NYC Mayor Will Reassess NYPD"


# ------------------------------------------------------------------ helpers


def callback(info: FakeInteraction, kind: int | None = None) -> Callable[[Call], bool]:
    def check(call: Call) -> bool:
        return call.path.endswith(f"/{info.token}/callback") and (
            kind is None or (call.body or {}).get("type") == kind
        )

    return check


def original_edit(info: FakeInteraction) -> Callable[[Call], bool]:
    return lambda c: c.method == "PATCH" and c.path.endswith(f"/{info.token}/messages/@original")


def posted_to(channel_id: int, *, contains: str = "") -> Callable[[Call], bool]:
    def check(call: Call) -> bool:
        if call.method != "POST" or call.path != f"/channels/{channel_id}/messages":
            return False
        body = call.body or {}
        return contains in (body.get("content") or "") + embeds_text(body)

    return check


def assert_no_pings(calls: list[Call]) -> None:
    assert calls, "expected messages"
    for call in calls:
        mentions = call.allowed_mentions
        assert mentions is not None, f"{call.method} {call.path} sent no allowed_mentions"
        assert mentions["parse"] == [], call.body
        assert not mentions.get("replied_user"), call.body
        assert "users" not in mentions and "roles" not in mentions, call.body


def assert_within_limits(calls: list[Call]) -> None:
    """Every message the bot sent fits Discord's size rules."""
    for call in calls:
        msg = call.message
        assert len(msg.get("content") or "") <= 2000
        embeds = msg.get("embeds") or []
        assert len(embeds) <= 10
        total = 0
        for e in embeds:
            assert len(e.get("title") or "") <= 256
            assert len(e.get("description") or "") <= 4096
            assert len(e.get("fields") or []) <= 25
            for f in e.get("fields") or []:
                assert len(f["name"]) <= 256 and len(f["value"]) <= 1024
            total += len(e.get("title") or "") + len(e.get("description") or "")
            total += sum(len(f["name"]) + len(f["value"]) for f in e.get("fields") or [])
            total += len((e.get("footer") or {}).get("text") or "")
        assert total <= 6000


def ephemeral_text(call: Call) -> str:
    data = (call.body or {}).get("data") or {}
    assert (data.get("flags") or 0) & 64, f"not ephemeral: {call.body}"
    return (data.get("content") or "") + embeds_text(data)


async def ask_and_wait(server: FakeDiscord, question: str = QUESTION, **kw: Any) -> Call:
    info = await server.slash("ask", {"question": question}, **kw)
    await server.wait_for(callback(info, 5), timeout=5)
    return await server.wait_for(original_edit(info))


def thread_hint(thread_id: int) -> Callable[[Call], bool]:
    return posted_to(thread_id, contains="Follow-up questions go here")


@pytest.fixture(autouse=True)
def _shared_library_stays_unchanged(shared_library: Shared) -> Iterator[None]:
    """The shared Library is read-only: a test that changed it would make the
    others (and its own rerun) depend on test order. Use ``own_library``."""
    before = shared_library.library.status()
    yield
    assert shared_library.library.status() == before, "a test changed the shared Library"


# ------------------------------------------------------------------ login, sync


async def test_login_ready_and_command_sync(shared_library: Shared) -> None:
    async with running_bot(shared_library) as bot:
        server = bot.server
        assert [c.path for c in server.calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]
        assert len(server.identifies) == 1
        identify = server.identifies[0]
        assert identify["token"] == server.token
        assert identify["intents"] & (1 << 15), "message content intent requested"
        puts = server.calls_matching("PUT", rf"/applications/{server.app_id}/commands")
        assert puts, "tree.sync() did not register commands"
        assert {c["name"] for c in puts[-1].body} == {"ask", "articles", "reindex", "about"}
        ask = next(c for c in puts[-1].body if c["name"] == "ask")
        assert ask["options"][0]["name"] == "question" and ask["options"][0]["required"]
        assert bot.client.user is not None and bot.client.user.id == server.bot_id
        assert bot.client.get_guild(server.guild_id) is not None
        await asyncio.sleep(0.3)
        assert server.heartbeats, "the bot heartbeats"


async def test_guild_command_sync_when_guilds_are_restricted(shared_library: Shared) -> None:
    async with (
        FakeDiscord() as server,
        running_bot(shared_library, server=server, discord_allowed_guilds=[server.guild_id]),
    ):
        puts = server.calls_matching(
            "PUT", rf"/applications/{server.app_id}/guilds/{server.guild_id}/commands"
        )
        assert puts
        assert {c["name"] for c in puts[-1].body} == {"ask", "articles", "reindex", "about"}


# ------------------------------------------------------------------ answering


async def test_ask_defers_then_answers_with_citations_and_opens_thread(
    shared_library: Shared,
) -> None:
    async with running_bot(shared_library) as bot:
        server = bot.server
        info = await server.slash("ask", {"question": QUESTION})
        defer = await server.wait_for(callback(info, 5), timeout=5)
        assert defer.at - info.sent_at < 1.0, "defer must come well within 3 s"
        answer = await server.wait_for(original_edit(info))
        text = embeds_text(answer.body)
        assert "[1]" in text
        assert "Derrick Ingram" in text
        assert SOURCE_TITLE in text  # source title
        assert "> “" in text  # quoted sentence
        assert any(cid.startswith("citebot:sources:") for cid in button_ids(answer.body))
        thread_call = await server.wait_for(
            lambda c: c.method == "POST" and c.path.endswith("/threads")
        )
        assert thread_call.body["name"] == QUESTION
        thread_id = int(thread_call.path.split("/")[-2])
        await server.wait_for(thread_hint(thread_id))
        assert_no_pings(server.sent_messages())
        assert_within_limits(server.sent_messages())
        assert bot.library.threads == {"citebot-answers_0"}, "asks run on the answers worker"


async def test_mention_gets_a_reply_with_the_same_answer(shared_library: Shared) -> None:
    async with running_bot(shared_library) as bot:
        server = bot.server
        asked = await server.say(QUESTION, mention_bot=True)
        reply = await server.wait_for(posted_to(server.channel_id, contains="[1]"))
        assert str(reply.body["message_reference"]["message_id"]) == asked["id"]
        text = embeds_text(reply.body)
        assert "Derrick Ingram" in text and SOURCE_TITLE in text
        assert button_ids(reply.body)
        assert bot.library.asks[0] == (QUESTION, [])
        assert_no_pings(server.sent_messages())


async def test_follow_up_in_thread_uses_history(shared_library: Shared) -> None:
    async with running_bot(shared_library) as bot:
        server = bot.server
        await ask_and_wait(server)
        thread_call = await server.wait_for(
            lambda c: c.method == "POST" and c.path.endswith("/threads")
        )
        thread_id = int(thread_call.path.split("/")[-2])
        await server.wait_for(thread_hint(thread_id))
        # a plain message (no mention) in the thread is a follow-up question
        await server.say("What group did he co-found?", channel_id=thread_id)
        reply = await server.wait_for(posted_to(thread_id, contains="[1]"))
        question, history = bot.library.asks[-1]
        assert question == "What group did he co-found?"
        assert [t.question for t in history] == [QUESTION]
        assert "Ingram" in history[0].answer
        text = embeds_text(reply.body)
        assert "Warriors in The Garden" in text, text  # "he" resolved to Ingram
        # /ask inside the thread continues the same conversation
        await ask_and_wait(server, "When did he turn himself in?", channel_id=thread_id)
        history = bot.library.asks[-1][1]
        assert len(history) == 2 and history[0].question == QUESTION
        assert history[1].question.startswith("What group did he co-found?")
        threads = server.calls_matching("POST", r"/channels/\d+/messages/\d+/threads")
        assert len(threads) == 1, "no new thread inside a thread"
        assert_no_pings(server.sent_messages())


async def test_sources_button_shows_full_passages_ephemerally(shared_library: Shared) -> None:
    async with running_bot(shared_library) as bot:
        server = bot.server
        answer = await ask_and_wait(server)
        [custom_id] = button_ids(answer.body)
        message = server.messages[server.originals[_token(answer)]]
        click = await server.click(message, custom_id, user_id=77)
        shown = await server.wait_for(callback(click, 4))
        text = ephemeral_text(shown)
        assert SOURCE_TITLE in text
        first = shared_library.library.ask(QUESTION).citations[0]
        assert f"**{first.sentence}**" in text  # the cited sentence in bold
        rest = first.passage.replace(first.sentence, "")
        assert rest.strip()[:60] in text  # ... inside its whole passage
        assert_no_pings([shown])
        # an unknown (expired, e.g. before a restart) key gets a polite note
        old = copy.deepcopy(message)
        old["components"][0]["components"][0]["custom_id"] = "citebot:sources:00ff"
        stale = await server.click(old, "citebot:sources:00ff", user_id=77)
        expired = await server.wait_for(callback(stale, 4))
        assert "no longer have the sources" in ephemeral_text(expired)


def _token(call: Call) -> str:
    return call.path.split("/")[3]


# ------------------------------------------------------------------ limits


async def test_cooldown_per_user(shared_library: Shared) -> None:
    async with running_bot(shared_library, discord_cooldown_seconds=30) as bot:
        server = bot.server
        await ask_and_wait(server, user_id=1)
        again = await server.slash("ask", {"question": QUESTION}, user_id=1)
        refused = await server.wait_for(callback(again, 4), timeout=5)
        text = ephemeral_text(refused)
        assert "try again in" in text and " s" in text
        assert 25 <= int(text.split("try again in ")[1].split(" ")[0]) <= 30
        # the mention path shares the same cooldown
        await server.say(QUESTION, user_id=1, mention_bot=True)
        await server.wait_for(posted_to(server.channel_id, contains="try again in"))
        # another user is not affected
        await ask_and_wait(server, user_id=2)
        assert len(bot.library.asks) == 2


async def test_concurrency_limit_says_busy(shared_library: Shared) -> None:
    async with running_bot(shared_library, discord_max_concurrency=1, ask_delay=1.5) as bot:
        server = bot.server
        first = await server.slash("ask", {"question": QUESTION}, user_id=1)
        await server.wait_for(callback(first, 5), timeout=5)
        second = await server.slash("ask", {"question": QUESTION}, user_id=2)
        busy = await server.wait_for(callback(second, 4), timeout=5)
        text = ephemeral_text(busy)
        assert "busy" in text and "try again in" in text
        await server.say(QUESTION, user_id=3, mention_bot=True)
        await server.wait_for(posted_to(server.channel_id, contains="busy"))
        await server.wait_for(original_edit(first))
        # once the slot is free the next question is answered
        await ask_and_wait(server, user_id=2)
        assert len(bot.library.asks) == 2


async def test_loop_stays_responsive_during_a_slow_answer(shared_library: Shared) -> None:
    async with running_bot(shared_library, ask_delay=3.0) as bot:
        server = bot.server
        slow = await server.slash("ask", {"question": QUESTION}, user_id=1)
        await server.wait_for(callback(slow, 5), timeout=5)
        await asyncio.sleep(0.3)  # the worker thread is now inside the slow ask
        pings = [await server.ping() for _ in range(5)]
        assert max(pings) < 0.25, pings
        # a second question and /about are acknowledged at once while the first runs
        other = await server.slash("ask", {"question": "What did de Blasio say?"}, user_id=2)
        about = await server.slash("about", user_id=3)
        for info in (other, about):
            ack = await server.wait_for(callback(info, 5), timeout=2)
            assert ack.at - info.sent_at < 0.5
        assert not any(original_edit(slow)(c) for c in server.calls), "still answering"
        # everything is answered in order, nothing lost
        await server.wait_for(original_edit(slow), timeout=15)
        await server.wait_for(original_edit(other), timeout=15)
        await server.wait_for(original_edit(about), timeout=15)
        assert bot.client.latency < 1.0


# ------------------------------------------------------------------ admin & feeds


async def test_reindex_refused_for_non_admin(shared_library: Shared) -> None:
    async with running_bot(shared_library, discord_admin_role="Editors") as bot:
        server = bot.server
        info = await server.slash("reindex", user_id=5)
        refused = await server.wait_for(callback(info, 4), timeout=5)
        text = ephemeral_text(refused)
        assert "Only server administrators" in text and "Editors" in text
        assert not server.calls_matching("PATCH", r"/webhooks/.*")


async def test_reindex_for_admin_reports_changes_and_announces(own_library: Shared) -> None:
    write_article(
        own_library.watch_dir,
        "bike-lane.txt",
        "City Council Approves Riverside Bike Lane",
        "The city council voted 7-2 on Tuesday to build a protected bike lane along "
        "Riverside Drive. Construction starts in spring and costs 4 million dollars.",
    )
    async with (
        FakeDiscord() as server,
        running_bot(
            own_library,
            server=server,
            discord_notify_channel=server.notify_channel_id,
            discord_admin_role="Editors",
        ),
    ):
        info = await server.slash("reindex", admin=True)
        await server.wait_for(callback(info, 5), timeout=5)
        done = await server.wait_for(original_edit(info), timeout=30)
        content = done.body["content"]
        assert "Reindex finished" in content and " 0 added" not in content, content
        assert "City Council Approves Riverside Bike Lane" in content
        notice = await server.wait_for(posted_to(server.notify_channel_id, contains="New article"))
        assert "City Council Approves Riverside Bike Lane" in notice.body["content"]
        # a member holding the configured role may reindex too (nothing new now)
        by_role = await server.slash("reindex", roles=[server.editor_role_id])
        again = await server.wait_for(original_edit(by_role), timeout=30)
        assert "0 added" in again.body["content"]
        assert_no_pings(server.sent_messages())


async def test_scheduled_update_posts_new_article_notice(own_library: Shared) -> None:
    async with (
        FakeDiscord() as server,
        running_bot(
            own_library,
            server=server,
            feed_interval=0.3,
            discord_notify_channel=server.notify_channel_id,
        ),
    ):
        write_article(
            own_library.watch_dir,
            "harbor-ferry.txt",
            "Harbor Ferry Adds Night Service @everyone",
            "The harbor ferry will run every hour after midnight starting in May, "
            "the transit authority announced on Monday.",
        )
        notice = await server.wait_for(
            posted_to(server.notify_channel_id, contains="Harbor Ferry"), timeout=30
        )
        content = notice.body["content"]
        assert content.startswith("📰 New article indexed")
        assert "@everyone" not in content  # neutralised, and never parsed anyway
        assert_no_pings([notice])


EMPTY_FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Local news</title>'
    "<link>http://127.0.0.1/</link><description>nothing yet</description></channel></rss>"
)


async def test_answers_are_not_queued_behind_a_stuck_feed_pull(
    tmp_path: Path, make_library: Callable[..., Library]
) -> None:
    """A feed that drips a byte every 0.2 s holds the scheduled pull for 30 s;
    meanwhile ``/ask`` and ``/about`` are answered: updates have their own worker."""
    # http_timeout far above the drip, so the pull stays stuck for the whole test;
    # the feed is on 127.0.0.1, which fetches refuse unless private URLs are allowed
    library = make_library(tmp_path, http_timeout=120, allow_private_urls=True)
    with DripServer() as feeds:
        feed = feeds.serve("/feed.xml", EMPTY_FEED, "application/rss+xml")
        library.ingest([str(SEED), feed])
        assert library.status().feeds == [feed]
        feeds.drip("/feed.xml", every=0.2, seconds=30)
        mine = Shared(library, tmp_path, tmp_path / "data")
        async with running_bot(mine, feed_interval=0.1) as bot:
            try:
                server = bot.server
                assert await asyncio.to_thread(feeds.drip_started.wait, 20), "no feed pull"
                info = await server.slash("ask", {"question": QUESTION})
                answer = await server.wait_for(original_edit(info), timeout=20)
                assert feeds.stuck == 1, "answered only after the feed pull gave up"
                assert answer.at - info.sent_at < 10  # the issue asks for 2 s; 30 s if queued
                assert "Derrick Ingram" in embeds_text(answer.body)
                about = await server.slash("about")
                await server.wait_for(original_edit(about), timeout=20)
                assert feeds.stuck == 1
                assert bot.library.threads == {"citebot-answers_0"}
            finally:
                feeds.release()  # let the pull end before the bot shuts down


# ------------------------------------------------------------------ other commands


async def test_articles_and_about(shared_library: Shared) -> None:
    async with running_bot(shared_library) as bot:
        server = bot.server
        listed = await server.slash("articles")
        text = embeds_text((await server.wait_for(original_edit(listed))).body)
        assert SOURCE_TITLE in text and "showing" in text
        found = await server.slash("articles", {"query": "facial recognition"})
        assert SOURCE_TITLE in embeds_text((await server.wait_for(original_edit(found))).body)
        none = await server.slash("articles", {"query": "zebra crossing"})
        assert "No matching articles" in embeds_text(
            (await server.wait_for(original_edit(none))).body
        )
        about = await server.slash("about")
        about_text = embeds_text((await server.wait_for(original_edit(about))).body)
        assert "cite" in about_text.lower() or "quote" in about_text.lower()
        fields = (await server.wait_for(original_edit(about))).body["embeds"][0]["fields"]
        articles = next(f for f in fields if f["name"] == "Articles")
        assert int(articles["value"]) >= 1
        assert_no_pings(server.sent_messages())


# ------------------------------------------------------------------ safety


async def test_no_pings_even_when_the_question_contains_mentions(
    shared_library: Shared,
) -> None:
    async with running_bot(shared_library) as bot:
        server = bot.server
        nasty = f"@everyone @here <@&{server.admin_role_id}> <@99> {QUESTION}"
        answer = await ask_and_wait(server, nasty)
        assert "@everyone" in embeds_text(answer.body)  # shown, but never parsed
        await server.say(nasty, mention_bot=True, mention_everyone=True)
        await server.wait_for(posted_to(server.channel_id, contains="[1]"))
        assert_no_pings(server.sent_messages())
        client_default = bot.client.allowed_mentions
        assert client_default is not None and client_default.to_dict()["parse"] == []


async def test_ignores_bots_everyone_pings_and_other_channels(shared_library: Shared) -> None:
    async with (
        FakeDiscord() as server,
        running_bot(
            shared_library, server=server, discord_allowed_channels=[server.channel_id]
        ) as bot,
    ):
        await server.say(QUESTION, mention_bot=True, bot_author=True)  # another bot
        await server.say(f"@everyone {QUESTION}", mention_everyone=True)  # not for us
        await server.say(QUESTION)  # no mention, not a thread
        await server.say(QUESTION, mention_bot=True, channel_id=server.other_channel_id)
        await server.say("Who is de Blasio?", mention_bot=True)  # the one to answer
        await server.wait_for(posted_to(server.channel_id, contains="[1]"))
        await asyncio.sleep(0.2)
        assert [q for q, _ in bot.library.asks] == ["Who is de Blasio?"]
        other = await server.slash(
            "ask", {"question": QUESTION}, channel_id=server.other_channel_id
        )
        refused = await server.wait_for(callback(other, 4), timeout=5)
        assert "not enabled in this channel" in ephemeral_text(refused)
        dm = await server.slash("ask", {"question": QUESTION}, dm=True, channel_id=555)
        refused_dm = await server.wait_for(callback(dm, 4), timeout=5)
        assert "direct messages" in ephemeral_text(refused_dm)
        assert len(bot.library.asks) == 1


async def test_long_question_is_truncated_to_embed_limits(shared_library: Shared) -> None:
    async with running_bot(shared_library) as bot:
        question = QUESTION + " " + "Please explain in detail. " * 38
        answer = await ask_and_wait(bot.server, question[:1000])
        title = answer.body["embeds"][0]["title"]
        assert len(title) <= 256 and title.endswith("…")
        thread = await bot.server.wait_for(lambda c: c.path.endswith("/threads"))
        assert len(thread.body["name"]) <= 100
        assert_within_limits(bot.server.sent_messages())


# ------------------------------------------------------------------ errors


HOSTILE_PASSAGE = (
    "Officials said on Monday. # Breaking: **read** [the full story](https://evil.example/x) "
    "now. The council approved the budget."
)


def hostile_answer(question: str, *args: Any, **kwargs: Any) -> Answer:
    """What a feed (or an LLM) might produce: markdown, masked links, a bad URL."""
    sentence = "# Breaking: **read** [the full story](https://evil.example/x) now."
    start = HOSTILE_PASSAGE.index(sentence)
    cite = Citation(
        n=1,
        article_id="feed-1",
        title="[Click me](https://evil.example/t) __Budget__",
        url="javascript:alert(1)",
        passage=HOSTILE_PASSAGE,
        sentence=sentence,
        sentence_span=(start, start + len(sentence)),
        score=0.8,
    )
    odd_link = cite.model_copy(update={"n": 2, "url": "https://example.org/a_(b)"})
    text = "See [this](https://evil.example/a) [1] and ||spoiler|| [2]."
    return Answer(question=question, text=text, abstained=False, citations=[cite, odd_link])


async def test_article_text_and_bad_feed_urls_cannot_break_or_fake_links(
    shared_library: Shared,
) -> None:
    async with running_bot(shared_library) as bot:
        server = bot.server
        bot.library.ask = hostile_answer  # type: ignore[method-assign]
        answer = await ask_and_wait(server)
        text = embeds_text(answer.body)
        assert "Sorry" not in (answer.body.get("content") or ""), answer.body
        assert "[1]" in text and "[2]" in text  # citation markers survive escaping
        for masked in ("[this](", "[the full story](", "[Click me]("):
            assert masked not in text.replace("\\" + masked, ""), f"live masked link {masked}"
        assert "javascript:" not in text
        assert "[link](https://example.org/a_%28b%29)" in text  # usable, not broken
        assert "\\|\\|spoiler" in text
        # the Sources button works despite the javascript: URL (Discord refuses bad embed URLs)
        [custom_id] = button_ids(answer.body)
        message = server.messages[server.originals[_token(answer)]]
        click = await server.click(message, custom_id, user_id=77)
        shown = await server.wait_for(callback(click, 4))
        passages = ephemeral_text(shown)
        assert "Budget" in passages and "no longer have" not in passages
        embeds = shown.body["data"]["embeds"]
        assert [e.get("url") for e in embeds] == [None, "https://example.org/a_%28b%29"]
        assert "[the full story](" not in passages.replace("\\[the full story](", "")


async def test_error_messages_keep_paths_addresses_and_pids_in_the_log(
    shared_library: Shared, caplog: pytest.LogCaptureFixture
) -> None:
    failures = iter(
        [
            StoreError("cannot open the index in /srv/citebot/data (disk I/O error); move it"),
            StoreLockedError(
                "another citebot process (pid 4242) is updating the index in /home/ed/.citebot;"
                " try again when it has finished"
            ),
            StoreError("Chroma server at http://10.1.2.3:8000 is unreachable (refused)"),
        ]
    )

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise next(failures)

    async with running_bot(shared_library) as bot:
        bot.library.ask = failing  # type: ignore[method-assign]
        shown = []
        with caplog.at_level(logging.INFO, logger="citebot.discord"):
            for n in range(3):
                info = await bot.server.slash("ask", {"question": QUESTION}, user_id=100 + n)
                shown.append((await bot.server.wait_for(original_edit(info))).body["content"])
        for text in shown:
            assert "/srv" not in text and "/home" not in text, text
            assert "4242" not in text and "10.1.2.3" not in text, text
        assert "cannot open the index in (path hidden)" in shown[0]
        assert "another citebot process is updating the index" in shown[1]
        assert "Chroma server at (address hidden) is unreachable" in shown[2]
        logged = caplog.text
        assert "/srv/citebot/data" in logged and "pid 4242" in logged and "10.1.2.3" in logged


async def test_user_facing_error_is_shown(shared_library: Shared) -> None:
    async with running_bot(shared_library) as bot:
        info = await bot.server.slash("ask", {"question": "\x00\x01\x02"})
        shown = await bot.server.wait_for(original_edit(info))
        assert "the question is empty" in shown.body["content"]
        assert shown.body["embeds"] == []


async def test_unexpected_error_gets_apology_and_logged_traceback(
    shared_library: Shared, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(shared_library) as bot:

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("index exploded")

        bot.library.ask = broken  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR, logger="citebot.discord"):
            info = await bot.server.slash("ask", {"question": QUESTION})
            shown = await bot.server.wait_for(original_edit(info))
            assert "Sorry" in shown.body["content"]
            assert "exploded" not in shown.body["content"]
            await bot.server.say(QUESTION, mention_bot=True)
            reply = await bot.server.wait_for(posted_to(bot.server.channel_id, contains="Sorry"))
            assert "exploded" not in reply.body["content"]
        tracebacks = [r for r in caplog.records if r.exc_info and "exploded" in str(r.exc_info[1])]
        assert len(tracebacks) == 2


async def test_thread_creation_failure_does_not_lose_the_answer(shared_library: Shared) -> None:
    async with FakeDiscord() as server:
        server._routes = [r for r in server._routes if not r[1].pattern.endswith("/threads")]
        async with running_bot(shared_library, server=server):
            start = time.perf_counter()
            answer = await ask_and_wait(server)
            assert "[1]" in embeds_text(answer.body)
            await asyncio.sleep(0.2)
            assert not server.calls_matching("POST", r"/webhooks/.*")  # no apology follow-up
            assert time.perf_counter() - start < 10


async def test_direct_messages_when_enabled_keep_their_own_history(shared_library: Shared) -> None:
    async with running_bot(shared_library, discord_allow_dms=True) as bot:
        server = bot.server
        dm_channel = 777_000_000_000_000_001
        await server.say(QUESTION, channel_id=dm_channel)  # no mention needed in a DM
        first = await server.wait_for(posted_to(dm_channel, contains="[1]"))
        assert "Derrick Ingram" in embeds_text(first.body)
        await server.say("What group did he co-found?", channel_id=dm_channel)
        await server.wait_for(
            lambda c: len(bot.library.asks) == 2 and posted_to(dm_channel)(c) and c is not first
        )
        assert [t.question for t in bot.library.asks[-1][1]] == [QUESTION]
        assert not server.calls_matching("POST", r"/channels/\d+/messages/\d+/threads")
        info = await server.slash("ask", {"question": QUESTION}, dm=True, channel_id=dm_channel)
        await server.wait_for(original_edit(info))
        assert len(bot.library.asks[-1][1]) == 2
        assert_no_pings(server.sent_messages())
