// The consent page in a real browser: headless Chromium (Debian's) driven by Playwright.
// Registers a client, opens the authorization URL, checks what the page says, submits a wrong
// passphrase (refused, no redirect), then the right one with "read and trade", and follows the
// redirect back to the client (intercepted: nothing listens there), then exchanges the code.
// Prints one JSON object of what it saw. Run by the Rust test tests/it/oauth_browser.rs.
//
// Usage: node consent.cjs BASE_URL PASSPHRASE CHROMIUM_PATH

const crypto = require("node:crypto");
const http = require("node:http");
const { chromium } = require("playwright-core");

const [base, passphrase, executablePath] = process.argv.slice(2);

function b64url(buf) {
  return buf.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/// The client's redirect listener: records where the browser came back to.
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
    body: JSON.stringify({ redirect_uris: [redirectUri], client_name: "Browser Test Client" }),
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
    out.title = await page.title();
    out.heading = await page.textContent("h1");
    out.mode = await page.textContent(".mode");
    out.offered = await page.$$eval("input[name=access]", (els) => els.map((e) => e.value));

    await page.fill("#passphrase", "not the passphrase");
    const [wrong] = await Promise.all([
      page.waitForNavigation(),
      page.click("button[value=approve]"),
    ]);
    out.wrong_status = wrong.status();
    out.wrong_alert = await page.textContent("[role=alert]");
    out.after_wrong_url = page.url();

    await page.check("input[name=access][value=trade]");
    await page.fill("#passphrase", passphrase);
    await Promise.all([
      page.waitForURL(`http://127.0.0.1:${listener.port}/**`),
      page.click("button[value=approve]"),
    ]);
    out.returned_to = listener.seen.length;
    const back = new URL(page.url());
    out.back_text = await page.textContent("p");
    out.state = back.searchParams.get("state");
    out.iss = back.searchParams.get("iss");
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
    out.scope = (await token.json()).scope;
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
