"""A small fake Discord (REST + JSON gateway) on 127.0.0.1 for end-to-end tests.

Why: the bot must be tested as Discord sees it — the real discord.py client
logging in over HTTP, holding a websocket, heartbeating and receiving
dispatched events — without network access. The server implements just the
parts citebot uses and records every REST call (method, path, query, JSON body)
so tests assert on what the bot actually sent.

Facts it relies on (discord.py 2.7): JSON is parsed only when Content-Type is
exactly ``application/json``; interaction callbacks (``?with_response=1``)
must return ``{"interaction": {...}}``; text frames need no zlib.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

JSON_TYPE = "application/json"
API_PREFIX = "/api/v10/"

_snowflakes = itertools.count(1_300_000_000_000_000_000)


def snowflake() -> int:
    return next(_snowflakes)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def reply(data: Any, status: int = 200) -> web.Response:
    """JSON response with the exact Content-Type discord.py checks for."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": JSON_TYPE}
    )


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


def invalid_embed_url(body: Any) -> str | None:
    """Why Discord would refuse an embed ``url`` in this body (None: all fine).

    Discord checks embed URLs: only well-formed http(s) URLs pass, and one bad
    URL gets the whole message refused (400 Invalid Form Body).
    """
    if not isinstance(body, dict):
        return None
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    for embed in data.get("embeds") or []:
        url = embed.get("url") if isinstance(embed, dict) else None
        if url is None:
            continue
        if not isinstance(url, str) or any(ch.isspace() or not ch.isprintable() for ch in url):
            return f"Not a well formed URL: {url!r}"
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return f"Not a well formed URL: {url!r}"
        if parts.scheme not in ("http", "https"):
            return f'Scheme "{parts.scheme}" is not supported. Scheme must be one of (http, https).'
        if not parts.hostname:
            return f"Not a well formed URL: {url!r}"
    return None


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/1/messages"
    query: dict[str, str]
    body: Any
    at: float

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        if isinstance(self.body, dict):
            data = self.body.get("data", self.body)
            if isinstance(data, dict):
                return data.get("allowed_mentions")
        return None

    @property
    def message(self) -> dict[str, Any]:
        """The message part of the body (``data`` for interaction callbacks)."""
        if not isinstance(self.body, dict):
            return {}
        if "/callback" in self.path:
            return self.body.get("data") or {}
        return self.body


@dataclass
class FakeInteraction:
    id: int
    token: str
    channel_id: int
    user_id: int
    sent_at: float


@dataclass
class GatewayConn:
    ws: web.WebSocketResponse
    seq: int = 0
    identified: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ping_waiters: list[asyncio.Future[float]] = field(default_factory=list)

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(payload))


class FakeDiscord:
    """One guild with a few channels, one bot application, a handful of users."""

    def __init__(self, *, token: str = "fake-token", heartbeat_interval: float = 41.25) -> None:
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.app_id = snowflake()
        self.bot_id = self.app_id
        self.guild_id = snowflake()
        self.channel_id = snowflake()  # #general
        self.notify_channel_id = snowflake()  # #news
        self.other_channel_id = snowflake()  # #random
        self.admin_role_id = snowflake()
        self.editor_role_id = snowflake()
        self.bot_role_id = snowflake()
        self.bot_user = user_payload(self.bot_id, "citebot", bot=True)
        self.users: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {
            self.channel_id: self._text_channel(self.channel_id, "general", 0),
            self.notify_channel_id: self._text_channel(self.notify_channel_id, "news", 1),
            self.other_channel_id: self._text_channel(self.other_channel_id, "random", 2),
        }
        self.messages: dict[int, dict[str, Any]] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        self.originals: dict[str, int] = {}  # interaction token -> message id
        self.commands: dict[str, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.identifies: list[dict[str, Any]] = []
        self.heartbeats: list[float] = []  # every op 1 from the bot
        self.own_heartbeats: list[float] = []  # those it sent on its own schedule
        self.conns: list[GatewayConn] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Condition | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"/users/@me"), self._get_me),
            ("GET", re.compile(r"/oauth2/applications/@me"), self._get_app),
            ("PUT", re.compile(r"/applications/(\d+)(?:/guilds/(\d+))?/commands"), self._put_cmds),
            ("POST", re.compile(r"/interactions/(\d+)/([^/]+)/callback"), self._callback),
            ("PATCH", re.compile(r"/webhooks/(\d+)/([^/]+)/messages/@original"), self._edit_orig),
            ("POST", re.compile(r"/webhooks/(\d+)/([^/]+)"), self._followup),
            ("POST", re.compile(r"/channels/(\d+)/typing"), self._typing),
            ("POST", re.compile(r"/channels/(\d+)/messages/(\d+)/threads"), self._thread),
            ("POST", re.compile(r"/channels/(\d+)/messages"), self._create_message),
            ("GET", re.compile(r"/channels/(\d+)"), self._get_channel),
        ]

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ------------------------------------------------------------------ payloads

    def _text_channel(self, channel_id: int, name: str, position: int) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def _role(self, role_id: int, name: str, permissions: int, **extra: Any) -> dict[str, Any]:
        return {
            "id": str(role_id),
            "name": name,
            "permissions": str(permissions),
            "position": 0 if role_id == self.guild_id else 1,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
            **extra,
        }

    def user(self, user_id: int, name: str | None = None) -> dict[str, Any]:
        if user_id not in self.users:
            self.users[user_id] = user_payload(user_id, name or f"user{len(self.users) + 1}")
        return self.users[user_id]

    def member(
        self, user_id: int, *, admin: bool = False, roles: Iterable[int] = ()
    ) -> dict[str, Any]:
        return {
            "user": self.user(user_id),
            "roles": [str(r) for r in roles],
            "joined_at": now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
            "permissions": str(8 if admin else 1 << 11 | 1 << 10),
        }

    def guild_payload(self) -> dict[str, Any]:
        bot_member = self.member(self.bot_id) | {"roles": [str(self.bot_role_id)]}
        bot_member["user"] = self.bot_user
        return {
            "id": str(self.guild_id),
            "name": "Fake Guild",
            "icon": None,
            "owner_id": str(snowflake()),
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [
                self._role(self.guild_id, "@everyone", 1 << 10 | 1 << 11),
                self._role(self.admin_role_id, "Admins", 8),
                self._role(self.editor_role_id, "Editors", 0),
                self._role(
                    self.bot_role_id,
                    "citebot",
                    1 << 11,
                    managed=True,
                    tags={"bot_id": str(self.bot_id)},
                ),
            ],
            "emojis": [],
            "stickers": [],
            "channels": [c for c in self.channels.values() if c["type"] == 0],
            "threads": [],
            "members": [bot_member],
            "member_count": 3,
            "large": False,
            "unavailable": False,
            "joined_at": now_iso(),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def make_message(
        self,
        channel_id: int,
        author: dict[str, Any],
        content: str = "",
        **fields: Any,
    ) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        message: dict[str, Any] = {
            "id": str(snowflake()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if channel is not None:
            message["guild_id"] = str(self.guild_id)
        message.update(fields)
        self.messages[int(message["id"])] = message
        return message

    def _bot_message(self, channel_id: int, body: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return self.make_message(
            channel_id,
            self.bot_user,
            body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=body.get("flags") or 0,
            **fields,
        )

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
        call = Call(request.method, path, dict(request.query), body, time.perf_counter())
        await self._record(call)
        public = path.startswith(("/interactions/", "/webhooks/"))
        if not public and request.headers.get("Authorization") != f"Bot {self.token}":
            return reply({"message": "401: Unauthorized", "code": 0}, status=401)
        bad_url = invalid_embed_url(body)
        if bad_url is not None:  # Discord rejects the whole message
            error = {"url": {"_errors": [{"code": "URL_TYPE_INVALID_URL", "message": bad_url}]}}
            return reply(
                {"message": "Invalid Form Body", "code": 50035, "errors": {"embeds": error}},
                status=400,
            )
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and method == request.method:
                return await handler(call, *match.groups())
        return reply({"message": f"Unknown route {request.method} {path}", "code": 0}, 404)

    async def _record(self, call: Call) -> None:
        assert self._changed is not None
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _get_me(self, call: Call) -> web.Response:
        return reply(self.bot_user | {"verified": True, "mfa_enabled": False})

    async def _get_app(self, call: Call) -> web.Response:
        return reply(
            {
                "id": str(self.app_id),
                "name": "citebot",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": user_payload(snowflake(), "owner"),
                "team": None,
                "bot": self.bot_user,
            }
        )

    async def _put_cmds(self, call: Call, app_id: str, guild_id: str | None) -> web.Response:
        out = []
        for cmd in call.body or []:
            stored = {
                "id": str(snowflake()),
                "application_id": app_id,
                "version": str(snowflake()),
                "type": cmd.get("type", 1),
                "name": cmd["name"],
                "description": cmd.get("description", ""),
                "options": cmd.get("options", []),
                "default_member_permissions": cmd.get("default_member_permissions"),
                "dm_permission": cmd.get("dm_permission", True),
                "nsfw": cmd.get("nsfw", False),
            }
            if guild_id:
                stored["guild_id"] = guild_id
            self.commands[cmd["name"]] = stored
            out.append(stored)
        return reply(out)

    async def _callback(self, call: Call, interaction_id: str, token: str) -> web.Response:
        kind = (call.body or {}).get("type")
        data = (call.body or {}).get("data") or {}
        info = self.interactions.get(token)
        channel_id = info.channel_id if info else self.channel_id
        result: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
            }
        }
        if kind in (4, 5):
            message = self._bot_message(channel_id, data, webhook_id=str(self.app_id))
            self.originals[token] = int(message["id"])
            result["interaction"]["response_message_id"] = message["id"]
            if kind == 4:
                result["resource"] = {"type": kind, "message": message}
        return reply(result)

    async def _edit_orig(self, call: Call, app_id: str, token: str) -> web.Response:
        info = self.interactions.get(token)
        channel_id = info.channel_id if info else self.channel_id
        body = call.body or {}
        message_id = self.originals.get(token)
        if message_id is None:
            message = self._bot_message(channel_id, body, webhook_id=app_id)
            self.originals[token] = int(message["id"])
        else:
            message = self.messages[message_id]
            for key in ("content", "embeds", "components"):
                if key in body:
                    message[key] = body[key] if body[key] is not None else message[key]
            message["edited_timestamp"] = now_iso()
        return reply(message)

    async def _followup(self, call: Call, app_id: str, token: str) -> web.Response:
        info = self.interactions.get(token)
        channel_id = info.channel_id if info else self.channel_id
        return reply(self._bot_message(channel_id, call.body or {}, webhook_id=app_id))

    async def _typing(self, call: Call, channel_id: str) -> web.Response:
        return web.Response(status=204)

    async def _create_message(self, call: Call, channel_id: str) -> web.Response:
        body = call.body or {}
        fields: dict[str, Any] = {}
        if body.get("message_reference"):
            fields["message_reference"] = body["message_reference"]
            fields["type"] = 19
        return reply(self._bot_message(int(channel_id), body, **fields))

    async def _thread(self, call: Call, channel_id: str, message_id: str) -> web.Response:
        body = call.body or {}
        thread_id = int(message_id)  # Discord reuses the starter message id
        thread = {
            "id": str(thread_id),
            "type": 11,
            "guild_id": str(self.guild_id),
            "parent_id": channel_id,
            "owner_id": str(self.bot_id),
            "name": body.get("name", "thread"),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": now_iso(),
                "locked": False,
            },
        }
        self.channels[thread_id] = thread
        await self.dispatch("THREAD_CREATE", thread | {"newly_created": True})
        return reply(thread)

    async def _get_channel(self, call: Call, channel_id: str) -> web.Response:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            return reply({"message": "Unknown Channel", "code": 10003}, 404)
        return reply(channel)

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = GatewayConn(ws)
        self.conns.append(conn)
        await conn.send(
            {"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}}
        )
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            op = data.get("op")
            if op == 1:
                now = time.perf_counter()
                self.heartbeats.append(now)
                if not conn.ping_waiters:
                    self.own_heartbeats.append(now)
                for waiter in conn.ping_waiters:
                    if not waiter.done():
                        waiter.set_result(now)
                conn.ping_waiters.clear()
                await conn.send({"op": 11})
            elif op == 2:
                self.identifies.append(data["d"])
                await self._ready(conn)
                assert self._changed is not None
                async with self._changed:
                    self._changed.notify_all()
            elif op == 6:
                conn.identified = True
                await conn.send({"op": 0, "t": "RESUMED", "s": conn.seq + 1, "d": {}})
        return ws

    async def _ready(self, conn: GatewayConn) -> None:
        conn.seq += 1
        await conn.send(
            {
                "op": 0,
                "t": "READY",
                "s": conn.seq,
                "d": {
                    "v": 10,
                    "user": self.bot_user,
                    "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                    "session_id": "fake-session",
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": str(self.app_id), "flags": 0},
                    "private_channels": [],
                    "relationships": [],
                    "shard": [0, 1],
                },
            }
        )
        conn.identified = True
        await self._send(conn, "GUILD_CREATE", self.guild_payload())

    async def _send(self, conn: GatewayConn, event: str, data: dict[str, Any]) -> None:
        conn.seq += 1
        await conn.send({"op": 0, "t": event, "s": conn.seq, "d": data})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH event to every identified gateway connection."""
        for conn in self.conns:
            if conn.identified and not conn.ws.closed:
                await self._send(conn, event, data)

    async def ping(self, timeout: float = 10.0) -> float:
        """Ask the bot for a heartbeat (op 1) and time its answer: loop responsiveness."""
        conn = next(c for c in reversed(self.conns) if c.identified and not c.ws.closed)
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        conn.ping_waiters.append(waiter)
        start = time.perf_counter()
        await conn.send({"op": 1, "d": None})
        answered = await asyncio.wait_for(waiter, timeout)
        return answered - start

    # ------------------------------------------------------------------ user actions

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user_id: int,
        channel_id: int | None,
        admin: bool = False,
        roles: Iterable[int] = (),
        dm: bool = False,
        **extra: Any,
    ) -> tuple[dict[str, Any], FakeInteraction]:
        interaction_id = snowflake()
        token = f"tok-{interaction_id}"
        channel_id = channel_id or self.channel_id
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "app_permissions": str((1 << 50) - 1),
            "attachment_size_limit": 8 * 1024 * 1024,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 1 if dm else 0,
            **extra,
        }
        if dm:
            payload["user"] = self.user(user_id)
            payload["channel"] = {
                "id": str(channel_id),
                "type": 1,
                "recipients": [self.user(user_id)],
            }
            payload["channel_id"] = str(channel_id)
        else:
            payload["guild_id"] = str(self.guild_id)
            payload["guild_locale"] = "en-US"
            payload["member"] = self.member(user_id, admin=admin, roles=roles)
            payload["channel"] = self.channels.get(channel_id) or self._text_channel(
                channel_id, "unknown", 9
            )
            payload["channel_id"] = str(channel_id)
        info = FakeInteraction(interaction_id, token, channel_id, user_id, time.perf_counter())
        self.interactions[token] = info
        return payload, info

    async def slash(
        self,
        name: str,
        options: dict[str, str] | None = None,
        *,
        user_id: int = 42,
        channel_id: int | None = None,
        admin: bool = False,
        roles: Iterable[int] = (),
        dm: bool = False,
    ) -> FakeInteraction:
        """A user runs ``/name option:value``."""
        command = self.commands.get(name, {"id": str(snowflake())})
        data = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()],
        }
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        payload, info = self._interaction(
            2, data, user_id=user_id, channel_id=channel_id, admin=admin, roles=roles, dm=dm
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return info

    async def click(
        self, message: dict[str, Any], custom_id: str, *, user_id: int = 42
    ) -> FakeInteraction:
        """A user presses the button ``custom_id`` on ``message``."""
        payload, info = self._interaction(
            3,
            {"custom_id": custom_id, "component_type": 2},
            user_id=user_id,
            channel_id=int(message["channel_id"]),
            message=message,
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return info

    async def say(
        self,
        content: str,
        *,
        user_id: int = 42,
        channel_id: int | None = None,
        mention_bot: bool = False,
        bot_author: bool = False,
        mention_everyone: bool = False,
    ) -> dict[str, Any]:
        """A user (or another bot) posts a message; returns its payload."""
        channel_id = channel_id or self.channel_id
        author = (
            user_payload(user_id, f"bot{user_id}", bot=True) if bot_author else self.user(user_id)
        )
        if mention_bot:
            content = f"<@{self.bot_id}> {content}"
        message = self.make_message(
            channel_id,
            author,
            content,
            mentions=[self.bot_user] if mention_bot else [],
            mention_everyone=mention_everyone,
            member={"roles": [], "joined_at": now_iso(), "deaf": False, "mute": False, "flags": 0},
        )
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    # ------------------------------------------------------------------ assertions

    async def wait_for(
        self, predicate: Callable[[Call], bool], *, timeout: float = 20.0, after: int = 0
    ) -> Call:
        """Wait for the first call (index >= ``after``) matching ``predicate``."""
        assert self._changed is not None

        def found() -> Call | None:
            return next((c for c in self.calls[after:] if predicate(c)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        result = found()
        assert result is not None
        return result

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 20.0) -> None:
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    def calls_matching(self, method: str, pattern: str) -> list[Call]:
        rx = re.compile(pattern)
        return [c for c in self.calls if c.method == method and rx.fullmatch(c.path)]

    def sent_messages(self) -> list[Call]:
        """Every call that put a message on screen (content/embeds)."""
        out = []
        for call in self.calls:
            if call.method not in ("POST", "PATCH") or not isinstance(call.body, dict):
                continue
            msg = call.message
            if isinstance(msg, dict) and ("content" in msg or "embeds" in msg):
                out.append(call)
        return out

    def for_interaction(self, info: FakeInteraction) -> list[Call]:
        return [c for c in self.calls if info.token in c.path]
