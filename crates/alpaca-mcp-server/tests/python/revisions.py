"""The official MCP Python SDK's client (2.x) against the server over streamable HTTP, under
one revision ("legacy": the 2025-11-25 initialize handshake; "2026-07-28": stateless): it
completes the checklist's symbol, places an order held for confirmation (answering the
question with `--answer`), and reads a quote that the fake answers 429 once, listening for
log messages. Prints one JSON line of what it saw; the Rust test judges it."""

import argparse
import asyncio
import json

import mcp_types as types
from mcp import Client


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--answer", choices=["yes", "no"], required=True)
    args = parser.parse_args()

    asked: list[str] = []
    logs: list[dict] = []

    async def elicit(_context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"confirm": args.answer == "yes"})

    async def log(params):
        logs.append({"level": params.level, "data": params.data})

    extra = {}
    if args.mode != "legacy":
        # 2026-07-28 sends log messages only for requests that opt in.
        extra["log_level"] = "info"
    async with Client(
        args.url,
        mode=args.mode,
        elicitation_callback=elicit,
        logging_callback=log,
        **extra,
    ) as client:
        seen: dict = {"protocol_version": client.protocol_version}
        done = await client.complete(
            types.PromptReference(type="ref/prompt", name="pre_trade_checklist"),
            argument={"name": "symbol", "value": "ms"},
        )
        seen["completion"] = done.completion.values
        seen["completion_total"] = done.completion.total
        order = await client.call_tool(
            "place_stock_order", {"symbol": "AAPL", "side": "buy", "qty": 2}
        )
        seen["order_is_error"] = bool(order.is_error)
        seen["order_text"] = "\n".join(
            c.text for c in order.content if getattr(c, "type", "") == "text"
        )
        seen["asked"] = asked
        quote = await client.call_tool("get_stock_latest_quote", {"symbols": "AAPL"})
        seen["quote_is_error"] = bool(quote.is_error)
        await asyncio.sleep(0.3)
        seen["logs"] = logs
    print(json.dumps(seen))


asyncio.run(main())
