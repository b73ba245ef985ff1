"""The MCP Python SDK's own client against the server: over streamable HTTP when given a URL
(with a bearer token when one is given), else over stdio by running the given command with
`--sandbox`. It lists the tools, calls get_clock, and prints what it saw as one JSON line.

python python_sdk.py <url | server command> [bearer token]
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def use(read, write, seen):
    async with ClientSession(read, write) as session:
        init = await session.initialize()
        seen["protocol"] = init.protocol_version
        tools = await session.list_tools()
        seen["tools"] = len(tools.tools)
        clock = await session.call_tool("get_clock", {})
        seen["clock_is_error"] = bool(clock.is_error)
        seen["clock_text"] = clock.content[0].text[:200] if clock.content else ""


async def main():
    target = sys.argv[1]
    token = sys.argv[2] if len(sys.argv) > 2 else None
    seen = {"errors": []}
    try:
        if target.startswith("http"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            http = create_mcp_http_client(headers=headers)
            async with http, streamable_http_client(target, http_client=http) as (read, write):
                await use(read, write, seen)
        else:
            params = StdioServerParameters(command=target, args=["--sandbox"])
            async with stdio_client(params) as (read, write):
                await use(read, write, seen)
    except BaseException as e:  # noqa: BLE001 - the test reads what went wrong
        seen["errors"].append(repr(e))
    print(json.dumps(seen))


asyncio.run(main())
