// The TypeScript MCP SDK's own client (the version a CLI bundles, from NODE_PATH's
// node_modules) against the server: over streamable HTTP when given a URL, else over stdio by
// running the given command with `--sandbox`. It lists the tools, calls get_clock, and prints
// what it saw as one JSON line. Errors are printed, not thrown, so the test can say what went
// wrong.
//
// node ts_sdk.mjs <node_modules dir> <url | server command> [bearer token]
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [modules, target, token] = process.argv.slice(2);
const sdk = (p) => pathToFileURL(join(modules, "@modelcontextprotocol/sdk/dist/esm", p)).href;
const { Client } = await import(sdk("client/index.js"));

const seen = { errors: [] };
let transport;
if (/^https?:/.test(target)) {
  const { StreamableHTTPClientTransport } = await import(sdk("client/streamableHttp.js"));
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } });
} else {
  const { StdioClientTransport } = await import(sdk("client/stdio.js"));
  transport = new StdioClientTransport({ command: target, args: ["--sandbox"], stderr: "ignore" });
}
const client = new Client({ name: "ts-sdk-test", version: "1" });
client.onerror = (e) => seen.errors.push(String(e));
transport.onerror = (e) => seen.errors.push(String(e));
try {
  await client.connect(transport);
  seen.protocol = transport.protocolVersion ?? null;
  const tools = await client.listTools();
  seen.tools = tools.tools.length;
  const clock = await client.callTool({ name: "get_clock", arguments: {} });
  seen.clock_is_error = clock.isError ?? false;
  seen.clock_text = clock.content?.[0]?.text?.slice(0, 200) ?? "";
  await client.close();
} catch (e) {
  seen.errors.push(String(e));
}
console.log(JSON.stringify(seen));
