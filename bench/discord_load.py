"""Discord load benchmark: a burst of questions against the real bot client.

50 questions from 10 users arrive within one second (a mix of ``/ask`` and
@mentions) at a real ``CitebotClient`` logged in to the local fake Discord
(``tests/fakes/discord_server.py``), answering with the real ``Library`` over the
bundled article. Every question must get exactly one final reply — an answer,
or "try again in N s" from the cooldown/concurrency limits — nothing lost.

Reported: p50/p95 time from event to final reply (and to the first
acknowledgement for slash commands), and the gateway heartbeat during the
burst: the round trip of server-requested heartbeats (op 1 -> client reply,
which passes through the bot's event loop) and how late the client's own
scheduled heartbeats arrive. (discord.py's ``latency`` is not used: replies to
requested heartbeats reset its send timestamp, which skews it.)

Run ``python -m bench.discord_load [--quick]``; ``run(quick)`` returns the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUESTIONS = [
    "Who is Derrick Ingram?",
    "What did de Blasio say about facial recognition?",
    "When did Ingram turn himself in?",
    "What is Warriors in The Garden?",
    "Why did police go to Ingram's apartment?",
    "Who reported that the NYPD used facial recognition?",
    "What did the NYPD spokesperson say about the technology?",
    "Did the police have a warrant?",
    "What happened to the officer's hearing?",
    "Where did protesters gather?",
]
HEARTBEAT_INTERVAL = 0.5  # seconds, told to the client in HELLO so it beats during the burst
PING_EVERY = 0.25  # server-requested heartbeats; discord.py rate-limits replies (110/min)


@dataclass
class Event:
    kind: str  # "slash" | "mention"
    user_id: int
    question: str
    at: float  # planned offset in the burst, seconds
    sent: float = 0.0
    key: str = ""  # interaction token or message id
    acked: float | None = None
    done: float | None = None
    outcome: str = ""  # answered | cooldown | busy | error


@dataclass
class Burst:
    events: list[Event] = field(default_factory=list)
    pings: list[float] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def _classify(message: dict[str, Any]) -> str:
    """What a reply told the user, from the message body the bot sent."""
    text = message.get("content") or ""
    if message.get("embeds"):
        return "answered"
    if "try again in" in text:
        return "busy" if "busy" in text else "cooldown"
    return "error"


def _settle(server: Any, events: list[Event]) -> None:
    """Match the REST calls the bot made to the events they answer."""
    by_token = {e.key: e for e in events if e.kind == "slash"}
    by_message = {e.key: e for e in events if e.kind == "mention"}
    for call in server.calls:
        parts = call.path.split("/")
        if call.path.startswith("/interactions/") and call.path.endswith("/callback"):
            event = by_token.get(parts[3])
            if event is None:
                continue
            event.acked = event.acked or call.at
            if (call.body or {}).get("type") == 4 and event.done is None:
                event.done, event.outcome = call.at, _classify(call.body["data"])
        elif call.method == "PATCH" and call.path.endswith("/messages/@original"):
            event = by_token.get(parts[3])
            if event is not None and event.done is None:
                event.done, event.outcome = call.at, _classify(call.body or {})
        elif call.method == "POST" and call.path.endswith("/messages"):
            ref = (call.body or {}).get("message_reference") or {}
            event = by_message.get(str(ref.get("message_id")))
            if event is not None and event.done is None:
                event.done, event.outcome = call.at, _classify(call.body or {})
                event.acked = event.done


async def _burst(
    library: Any,
    *,
    n_questions: int,
    n_users: int,
    window: float,
    cooldown: float,
    concurrency: int,
    seed: int,
) -> dict[str, Any]:
    import discord

    from citebot.bot.discord.client import CitebotClient
    from citebot.index import Settings
    from tests.fakes.discord_server import FakeDiscord

    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    server = await FakeDiscord(heartbeat_interval=HEARTBEAT_INTERVAL).start()
    settings = Settings(
        _env_file=None,
        data_dir=library.settings.data_dir,
        discord_token=server.token,
        discord_api_base=server.api_base,
        discord_gateway_url=server.gateway_url,
        discord_cooldown_seconds=cooldown,
        discord_max_concurrency=concurrency,
        feed_interval=0,
        auto_index_bundled=False,
    )
    client = CitebotClient(settings, library, guild_ready_timeout=0.05)
    runner = asyncio.create_task(client.start(server.token))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 30)
        rng = random.Random(seed)
        burst = Burst()
        for i in range(n_questions):
            burst.events.append(
                Event(
                    kind="slash" if i % 5 < 3 else "mention",
                    user_id=1000 + i % n_users,
                    question=QUESTIONS[i % len(QUESTIONS)],
                    at=rng.uniform(0, window),
                )
            )
        burst.events.sort(key=lambda e: e.at)
        first_beat = len(server.own_heartbeats)
        start = time.perf_counter()
        finished = asyncio.Event()

        async def pinger() -> None:
            while not finished.is_set():
                burst.pings.append(await server.ping())
                await asyncio.sleep(PING_EVERY)

        ping_task = asyncio.create_task(pinger())
        for event in burst.events:
            delay = start + event.at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            event.sent = time.perf_counter()
            if event.kind == "slash":
                info = await server.slash(
                    "ask", {"question": event.question}, user_id=event.user_id
                )
                event.key, event.sent = info.token, info.sent_at
            else:
                message = await server.say(event.question, user_id=event.user_id, mention_bot=True)
                event.key = message["id"]

        def all_settled() -> bool:
            _settle(server, burst.events)
            return all(e.done is not None for e in burst.events)

        with contextlib.suppress(TimeoutError):  # unanswered events count as lost
            await server.wait_until(all_settled, timeout=120)
        elapsed = time.perf_counter() - start
        finished.set()
        await ping_task
        await client.wait_idle(30)
        beats = server.own_heartbeats[first_beat:]
        gaps = [b - a for a, b in itertools.pairwise(beats)]
    finally:
        await client.close()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await server.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved

    _settle(server, burst.events)
    events = burst.events
    to_reply = [e.done - e.sent for e in events if e.done is not None]
    answered = [e.done - e.sent for e in events if e.outcome == "answered" and e.done]
    acks = [e.acked - e.sent for e in events if e.kind == "slash" and e.acked is not None]
    outcomes = {
        k: sum(e.outcome == k for e in events) for k in ("answered", "cooldown", "busy", "error")
    }
    return {
        "questions": len(events),
        "users": n_users,
        "window_s": window,
        "cooldown_s": cooldown,
        "max_concurrency": concurrency,
        "outcomes": outcomes,
        "lost": sum(e.done is None for e in events),
        "elapsed_s": round(elapsed, 2),
        "reply_ms": {
            "p50": _ms(_percentile(to_reply, 50)),
            "p95": _ms(_percentile(to_reply, 95)),
            "max": _ms(max(to_reply, default=None)),
        },
        "answer_ms": {"p50": _ms(_percentile(answered, 50)), "p95": _ms(_percentile(answered, 95))},
        "slash_ack_ms": {
            "p50": _ms(_percentile(acks, 50)),
            "p95": _ms(_percentile(acks, 95)),
            "max": _ms(max(acks, default=None)),
        },
        "heartbeat": {
            "ping_rtt_ms": {
                "p50": _ms(_percentile(burst.pings, 50)),
                "max": _ms(max(burst.pings, default=None)),
                "samples": len(burst.pings),
            },
            "interval_s": HEARTBEAT_INTERVAL,
            "max_lateness_ms": _ms(max((g - HEARTBEAT_INTERVAL for g in gaps), default=None)),
        },
        "worker": {"calls": client.worker.calls, "busy_s": round(client.worker.busy_seconds, 2)},
    }


def _library(work: Path) -> Any:
    from citebot.index import Library, Settings

    library = Library(Settings(_env_file=None, data_dir=work / "data"))
    library.ensure_bundled()
    library.ask(QUESTIONS[0])  # load the model before the clock starts
    return library


def run(quick: bool = False) -> dict[str, Any]:
    """Run the burst with the default limits (and, unless quick, without limits)."""
    logging.getLogger("discord").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="citebot-discord-load-") as tmp:
        library = _library(Path(tmp))
        scenarios = {"default_limits": {"cooldown": 5.0, "concurrency": 4}}
        if not quick:
            scenarios["no_limits"] = {"cooldown": 0.0, "concurrency": 1000}
        results: dict[str, Any] = {}
        for name, limits in scenarios.items():
            results[name] = asyncio.run(
                _burst(
                    library,
                    n_questions=50,
                    n_users=10,
                    window=1.0,
                    cooldown=limits["cooldown"],
                    concurrency=int(limits["concurrency"]),
                    seed=7,
                )
            )
        library.close()
    main = results["default_limits"]
    return {
        "quick": quick,
        "scenarios": results,
        # headline numbers (default limits, as deployed)
        "questions": main["questions"],
        "lost": sum(r["lost"] for r in results.values()),
        "reply_p50_ms": main["reply_ms"]["p50"],
        "reply_p95_ms": main["reply_ms"]["p95"],
        "heartbeat_rtt_max_ms": max(
            r["heartbeat"]["ping_rtt_ms"]["max"] or 0 for r in results.values()
        ),
    }


def _print(result: dict[str, Any]) -> None:
    for name, r in result["scenarios"].items():
        print(
            f"\n== {name}: {r['questions']} questions from {r['users']} users in "
            f"{r['window_s']:g} s (cooldown {r['cooldown_s']:g} s, "
            f"max concurrency {r['max_concurrency']})"
        )
        print(
            f"   outcomes: {r['outcomes']}  lost: {r['lost']}  all settled after {r['elapsed_s']} s"
        )
        print(
            f"   event -> final reply:  p50 {r['reply_ms']['p50']} ms   "
            f"p95 {r['reply_ms']['p95']} ms   max {r['reply_ms']['max']} ms"
        )
        print(
            f"   event -> answer only:  p50 {r['answer_ms']['p50']} ms   "
            f"p95 {r['answer_ms']['p95']} ms"
        )
        print(
            f"   slash ack (defer/refusal): p50 {r['slash_ack_ms']['p50']} ms   "
            f"p95 {r['slash_ack_ms']['p95']} ms"
        )
        hb = r["heartbeat"]
        print(
            f"   heartbeat during burst: op1 round trip p50 {hb['ping_rtt_ms']['p50']} ms, "
            f"max {hb['ping_rtt_ms']['max']} ms ({hb['ping_rtt_ms']['samples']} samples); "
            f"own heartbeats (every {hb['interval_s']:g} s) late by at most "
            f"{hb['max_lateness_ms']} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="default limits only")
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    args = parser.parse_args(argv)
    result = run(args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
