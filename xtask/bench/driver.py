"""MCP measurements of one server over stdio, for `cargo xtask bench`.

Usage: driver.py '<json config>'; prints one JSON object on stdout. The config:
  command, args, env        how to start the server (env is added to a minimal environment)
  runs                      cold starts to time (process start -> initialize / tools/list answered)
  call_runs, calls          sessions of `calls` sequential tool calls each
  tool, tool_args           the tool to call
  toolset_variants          {label: ALPACA_TOOLSETS value or null}: tools/list sizes to measure
  research                  [[tool, args], ...]: one session calling each once, recording the
                            characters of each result (optional)

Every figure is a list of samples; the caller takes median, min and max. Both servers are driven
by the same client (the `mcp` package's stdio_client + ClientSession), so its overhead is the
same on both sides; the `raw_*` figures repeat start-up and calls over raw stdio lines, to show
what the server itself takes. tools/list bytes are measured on the wire (the JSON-RPC response
line), and per tool as compact JSON, so that the caller can compare the same tools.
"""

import asyncio
import json
import os
import subprocess
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def child_pid() -> int:
    """The pid of this process's only live child (the server spawned by stdio_client)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            return int(entry)
    raise RuntimeError("server process not found")


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set size."""
    return status_kib(pid, "VmHWM")


def params(cfg: dict, extra_env: dict | None = None) -> StdioServerParameters:
    env = {**cfg["env"], **(extra_env or {})}
    return StdioServerParameters(command=cfg["command"], args=cfg["args"], env=env)


async def cold_start(cfg: dict) -> dict:
    t0 = time.perf_counter()
    async with stdio_client(params(cfg), errlog=open(os.devnull, "w")) as (r, w):
        async with ClientSession(r, w) as session:
            await session.initialize()
            t1 = time.perf_counter()
            await session.list_tools()
            t2 = time.perf_counter()
            rss = vm_hwm_kib(child_pid())
    return {"init_ms": (t1 - t0) * 1e3, "list_ms": (t2 - t0) * 1e3, "rss_list_kib": rss}


async def call_session(cfg: dict) -> dict:
    lat = []
    async with stdio_client(params(cfg), errlog=open(os.devnull, "w")) as (r, w):
        async with ClientSession(r, w) as session:
            await session.initialize()
            await session.list_tools()
            pid = child_pid()
            for _ in range(cfg["calls"]):
                t0 = time.perf_counter()
                result = await session.call_tool(cfg["tool"], cfg["tool_args"])
                lat.append((time.perf_counter() - t0) * 1e3)
                if result.isError:
                    text = "".join(getattr(c, "text", "") for c in result.content)
                    raise RuntimeError(f"{cfg['tool']} failed: {text[:300]}")
            rss = vm_hwm_kib(pid)
            anon, file = status_kib(pid, "RssAnon"), status_kib(pid, "RssFile")
    p50, p99 = percentiles(lat)
    return {"p50_ms": p50, "p99_ms": p99, "rss_calls_kib": rss, "rss_anon_kib": anon, "rss_file_kib": file}


def field(obj, *names):
    """An attribute under its first name present (the `mcp` package renamed some across
    releases: `isError` / `is_error`)."""
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


async def research(cfg: dict) -> list:
    """Each call of the scripted research session once: the characters of its text content and
    of its structuredContent as compact JSON (clients hand the model one or the other)."""
    out = []
    async with stdio_client(params(cfg), errlog=open(os.devnull, "w")) as (r, w):
        async with ClientSession(r, w) as session:
            await session.initialize()
            for tool, args in cfg["research"]:
                try:
                    result = await session.call_tool(tool, args)
                except Exception as e:  # a protocol error (an unknown tool) counts as failed
                    out.append({"tool": tool, "ok": False, "error": str(e)[:200]})
                    continue
                text = "".join(getattr(c, "text", "") for c in result.content)
                structured = field(result, "structuredContent", "structured_content")
                out.append({
                    "tool": tool,
                    "ok": not field(result, "isError", "is_error"),
                    "text_chars": len(text),
                    "structured_chars": 0 if structured is None else len(
                        json.dumps(structured, separators=(",", ":"), ensure_ascii=False)),
                    "error": text[:200] if field(result, "isError", "is_error") else None,
                    # Ours says in meta.budget when it left rows out.
                    "cut": '"rows_returned":' in text or '"rows_returned":' in json.dumps(structured),
                })
    return out


def compact_len(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def percentiles(lat: list) -> tuple:
    lat = sorted(lat)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return pick(0.50), pick(0.99)


def raw_session(cfg: dict, toolsets: str | None, calls: int, extra_env: dict | None = None) -> dict:
    """The same session over raw stdio (one JSON line out, one in), the least client overhead:
    start -> initialize / tools/list answered, the tools/list response line, then `calls` calls.
    `extra_env` adds settings (a tool mode)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), **cfg["env"]}
    if toolsets is not None:
        env["ALPACA_TOOLSETS"] = toolsets
    env.update(extra_env or {})
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [cfg["command"], *cfg["args"]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )

    def request(id, method, params):
        proc.stdin.write((json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params}) + "\n").encode())
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server closed stdout before answering {method}")
            msg = json.loads(line)
            if msg.get("id") == id:
                if "result" not in msg:
                    raise RuntimeError(f"{method}: {msg.get('error')}")
                return line, msg["result"]

    init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}
    try:
        request(1, "initialize", init)
        t1 = time.perf_counter()
        proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        line, result = request(2, "tools/list", {})
        t2 = time.perf_counter()
        tools = result["tools"]
        out = {
            "init_ms": (t1 - t0) * 1e3,
            "list_ms": (t2 - t0) * 1e3,
            "bytes": len(line.rstrip(b"\n")),
            "tools": len(tools),
            "tool_bytes": {t["name"]: compact_len(t) for t in tools},
        }
        lat = []
        for i in range(calls):
            t = time.perf_counter()
            _, r = request(3 + i, "tools/call", {"name": cfg["tool"], "arguments": cfg["tool_args"]})
            lat.append((time.perf_counter() - t) * 1e3)
            if r.get("isError"):
                raise RuntimeError(f"{cfg['tool']} failed: {str(r)[:300]}")
        if lat:
            out["p50_ms"], out["p99_ms"] = percentiles(lat)
        return out
    finally:
        proc.kill()
        proc.wait()


async def main() -> None:
    cfg = json.loads(sys.argv[1])
    out = {}
    add = lambda prefix, d: [out.setdefault(prefix + k, []).append(v) for k, v in d.items()]
    for _ in range(cfg["runs"]):
        add("", await cold_start(cfg))
    for _ in range(cfg["call_runs"]):
        add("", await call_session(cfg))
    for i in range(cfg["runs"]):
        raw = raw_session(cfg, None, cfg["calls"] if i < cfg["call_runs"] else 0)
        add("raw_", {k: v for k, v in raw.items() if k.endswith("_ms")})
    # A variant is the toolsets (a string, or null for the default), or {"toolsets", "env"}.
    out["tools_list"] = {
        label: raw_session(cfg, v.get("toolsets"), 0, v.get("env"))
        if isinstance(v, dict)
        else raw_session(cfg, v, 0)
        for label, v in cfg["toolset_variants"].items()
    }
    if cfg.get("research"):
        out["research"] = await research(cfg)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
