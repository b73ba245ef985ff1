// What the browser sign-ins share (consent.cjs, connect.cjs): the client's redirect listener,
// its registration and PKCE, headless Chromium (Debian's, driven by Playwright, JavaScript
// off as our pages need none), the return to the client, and the code exchange.
//
// run({ base, executablePath, clientName, walk }) opens our authorization URL and calls
// walk(page, out, backAtClient): it goes through the pages, noting what it sees in `out`, and
// ends with backAtClient(click), the click that sends the browser back to the client. Then
// the code is exchanged, and one JSON object of `out` is printed for the Rust test to judge.

const crypto = require("node:crypto");
const http = require("node:http");
const { chromium } = require("playwright-core");

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

async function signIn({ base, executablePath, clientName, walk }) {
  const out = {};
  const listener = await listen();
  const redirectUri = `http://127.0.0.1:${listener.port}/callback`;
  const reg = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [redirectUri], client_name: clientName }),
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
    const backAtClient = (click) =>
      Promise.all([page.waitForURL(`http://127.0.0.1:${listener.port}/**`), click()]);
    await walk(page, out, backAtClient);
    out.returned_to = listener.seen.length;
    const back = new URL(page.url());
    out.back_text = await page.textContent("p");
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
  return out;
}

function run(options) {
  signIn(options).then(
    (out) => console.log(JSON.stringify(out)),
    (e) => {
      console.log(JSON.stringify({ error: String(e && e.stack ? e.stack : e) }));
      process.exit(1);
    },
  );
}

module.exports = { run };
