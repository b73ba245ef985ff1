"""An MCP client that connects through OAuth with the official Python SDK's client provider.

The SDK does discovery (protected resource and authorization server metadata), dynamic client
registration, PKCE, the token exchange, refresh and re-authorization itself; the one thing it
leaves to its user is the browser. Here the "browser" is an httpx2 client that fetches our
consent page, reads its form (hidden request id and CSRF value, with the page's cookie) and
submits it with the passphrase and the access asked for, then hands the code on the redirect
back to the SDK, as a real browser and redirect listener would.

Run by the Rust test tests/it/oauth_python.rs; prints one JSON object of what it saw.
"""

import argparse
import asyncio
import json
import ssl
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

REDIRECT_URI = "http://127.0.0.1:9/callback"


class FileStorage(TokenStorage):
    """Tokens and the registration in a JSON file, so a later run starts where this one ended."""

    def __init__(self, path: Path):
        self.path = path

    def _load(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def _save(self, key: str, value) -> None:
        data = self._load()
        data[key] = json.loads(value.model_dump_json())
        self.path.write_text(json.dumps(data))

    async def get_tokens(self):
        t = self._load().get("tokens")
        return OAuthToken.model_validate(t) if t else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._save("tokens", tokens)

    async def get_client_info(self):
        c = self._load().get("client")
        return OAuthClientInformationFull.model_validate(c) if c else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._save("client", client_info)


class Form(HTMLParser):
    """The consent page's form fields."""

    def __init__(self):
        super().__init__()
        self.fields = {}
        self.action = None
        self.access = []
        self.checked = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        if tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        if tag == "input" and a.get("name") == "access":
            self.access.append(a.get("value"))
        if tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.checked.append((a["name"], a.get("value", "on")))


class Browser:
    """Plays the owner at the consent page."""

    def __init__(self, passphrase: str, access: str, deny_after: int | None, verify):
        self.verify = verify
        self.passphrase = passphrase
        self.access = access
        self.deny_after = deny_after
        self.visits = []
        self.result = None

    async def redirect(self, authorization_url: str) -> None:
        query = parse_qs(urlparse(authorization_url).query)
        visit = {"scope": query.get("scope", [""])[0], "resource": query.get("resource", [""])[0]}
        self.visits.append(visit)
        async with httpx2.AsyncClient(verify=self.verify) as browser:
            page = await browser.get(authorization_url)
            visit["page_status"] = page.status_code
            if page.status_code != 200:
                raise RuntimeError(f"consent page answered {page.status_code}: {page.text[:300]}")
            form = Form()
            form.feed(page.text)
            visit["offered"] = form.access
            visit["live_warning"] = "LIVE account" in page.text
            decision = "deny" if self.deny_after is not None and len(self.visits) > self.deny_after else "approve"
            visit["decision"] = decision
            # As a browser submits it: hidden fields, the boxes left checked, the owner's answers.
            data = dict(form.fields)
            for name, value in form.checked:
                data.setdefault(name, []).append(value)
            data.update(access=self.access, passphrase=self.passphrase, decision=decision)
            answer = await browser.post(urljoin(authorization_url, form.action), data=data)
            visit["answer_status"] = answer.status_code
            if answer.status_code != 303:
                raise RuntimeError(f"consent answer was {answer.status_code}: {answer.text[:300]}")
            location = answer.headers["location"]
            q = parse_qs(urlparse(location).query)
            visit["redirect_host"] = urlparse(location).netloc
            if "error" in q:
                visit["error"] = q["error"][0]
                self.result = None
                return
            self.result = AuthorizationCodeResult(
                code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0]
            )

    async def callback(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise RuntimeError("the owner denied access")
        return self.result


def describe(e: BaseException) -> str:
    """An exception and, for a group, what is inside it."""
    inner = getattr(e, "exceptions", None)
    if inner:
        return f"{type(e).__name__}: " + "; ".join(describe(x) for x in inner)
    return f"{type(e).__name__}: {e}"


async def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--passphrase", required=True)
    p.add_argument("--access", choices=["read", "trade"], default="trade")
    p.add_argument("--storage", required=True, type=Path)
    p.add_argument("--call", action="append", default=[], help="NAME or NAME=JSON arguments")
    p.add_argument("--sleep", type=float, default=0, help="seconds to wait before calling the tools again")
    p.add_argument("--deny-after", type=int, default=None, help="deny every consent after this many")
    p.add_argument("--cafile", help="trust this root certificate (a proxy's local CA)")
    p.add_argument("--deadline", type=float, default=90, help="give up (and report) after this many seconds")
    args = p.parse_args()
    verify = ssl.create_default_context(cafile=args.cafile) if args.cafile else True

    events = []
    started = time.monotonic()

    async def on_request(request):
        entry = {"t": round(time.monotonic() - started, 3), "method": request.method, "path": request.url.path}
        if request.url.path == "/token":
            body = parse_qs(request.content.decode())
            entry["grant_type"] = body.get("grant_type", [""])[0]
        events.append(entry)

    async def on_response(response):
        events.append(
            {
                "t": round(time.monotonic() - started, 3),
                "status": response.status_code,
                "path": response.request.url.path,
                "www_authenticate": response.headers.get("www-authenticate", ""),
            }
        )

    browser = Browser(args.passphrase, args.access, args.deny_after, verify)
    provider = OAuthClientProvider(
        server_url=args.url,
        client_metadata=OAuthClientMetadata(
            client_name="python-sdk-e2e",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=FileStorage(args.storage),
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    if args.cafile:
        http = httpx2.AsyncClient(
            auth=provider, verify=verify, timeout=httpx2.Timeout(30.0, read=300.0)
        )
    else:
        http = create_mcp_http_client(auth=provider)
    http.event_hooks = {"request": [on_request], "response": [on_response]}
    out = {"visits": browser.visits, "events": events, "calls": []}

    async def call_all(session):
        for spec in args.call:
            name, _, raw = spec.partition("=")
            arguments = json.loads(raw) if raw else {}
            entry = {"name": name}
            out["stage"] = f"call {name}"
            try:
                result = await session.call_tool(name, arguments)
                entry["is_error"] = bool(getattr(result, "is_error", False))
                entry["text"] = "".join(getattr(c, "text", "") for c in result.content)[:2000]
            except BaseException as e:  # noqa: BLE001 - everything is reported to the test
                entry["exception"] = f"{type(e).__name__}: {e}"[:2000]
            out["calls"].append(entry)

    try:
        # A hang anywhere is reported with the stage it was in and the requests so far.
        async with asyncio.timeout(args.deadline):
            async with http:
                async with streamable_http_client(args.url, http_client=http) as (read, write):
                    async with ClientSession(read, write) as session:
                        out["stage"] = "initialize"
                        await session.initialize()
                        out["stage"] = "list tools"
                        tools = await session.list_tools()
                        out["tools"] = sorted(t.name for t in tools.tools)
                        await call_all(session)
                        if args.sleep:
                            await asyncio.sleep(args.sleep)
                            await call_all(session)
                        out["stage"] = "close"
            out["stage"] = "done"
    except BaseException as e:  # noqa: BLE001
        out["error"] = describe(e)[:4000]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
