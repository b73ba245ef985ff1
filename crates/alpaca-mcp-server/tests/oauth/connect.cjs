// Signing in with Alpaca (`--auth alpaca`) in a real browser: headless Chromium (Debian's)
// driven by Playwright, against the sandbox, whose fake Alpaca serves the sign-in page.
// Registers a client, opens our authorization URL, picks the live account and read and
// trade on our consent page, continues to the fake Alpaca page, signs in there, and follows
// the redirects through our callback back to the client (a listener here), then exchanges
// the code. Prints one JSON object of what it saw. Run by tests/it/oauth_browser.rs.
//
// Usage: node connect.cjs BASE_URL CHROMIUM_PATH

const crypto = require("node:crypto");
const http = require("node:http");
const { chromium } = require("playwright-core");

const [base, executablePath] = process.argv.slice(2);

function b64url(buf) {
  return buf.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function listen() {
  return new Promise((resolve) => {
    const seen = [];
    const server = http.createServer((req, res) => {
      seen.push(req.url);
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<p>back at the client</p>");
    });
    server.listen(0, "127.0.0.1", () => resolve({ server, seen, port: server.address().port }));
  });
}

async function main() {
  const out = {};
  const listener = await listen();
  const redirectUri = `http://127.0.0.1:${listener.port}/callback`;
  const reg = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [redirectUri], client_name: "Browser Connect Client" }),
  });
  const client = await reg.json();
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash("sha256").update(verifier).digest());
  const url = new URL(`${base}/authorize`);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "browser-state",
    scope: "read trade",
  })) {
    url.searchParams.set(k, v);
  }

  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  try {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const first = await page.goto(url.toString());
    out.page_status = first.status();
    out.heading = await page.textContent("h1");
    out.accounts = await page.$$eval("input[name=account]", (els) => els.map((e) => e.value));
    out.passphrase_fields = await page.$$eval("input[type=password]", (els) => els.length);
    out.button = (await page.textContent("button[value=approve]")).trim();

    await page.check("input[name=account][value=live]");
    await page.check("input[name=access][value=trade]");
    await Promise.all([page.waitForNavigation(), page.click("button[value=approve]")]);
    out.alpaca_title = await page.title();
    out.alpaca_origin = new URL(page.url()).origin;

    await page.fill("#username", "browser-user");
    await page.check("input[name=env][value=live]");
    await Promise.all([
      page.waitForURL(`http://127.0.0.1:${listener.port}/**`),
      page.click("#allow"),
    ]);
    out.returned_to = listener.seen.length;
    const back = new URL(page.url());
    out.state = back.searchParams.get("state");
    out.iss = back.searchParams.get("iss");
    out.error = back.searchParams.get("error");
    out.error_description = back.searchParams.get("error_description");
    const token = await fetch(`${base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: client.client_id,
        code: back.searchParams.get("code"),
        redirect_uri: redirectUri,
        code_verifier: verifier,
      }),
    });
    out.token_status = token.status;
    const body = await token.json();
    out.scope = body.scope;
    out.access_token = body.access_token;
  } finally {
    await browser.close();
    listener.server.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack ? e.stack : e) }));
  process.exit(1);
});
