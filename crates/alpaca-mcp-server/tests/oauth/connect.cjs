// Signing in with Alpaca (`--auth alpaca`) in a real browser, against the sandbox, whose fake
// Alpaca serves the sign-in page: picks the live account and read and trade on our consent
// page, continues to the fake Alpaca page, signs in there, and follows the redirects through
// our callback back to the client. The rest is sign_in.cjs. Run by tests/it/oauth_browser.rs.
//
// Usage: node connect.cjs BASE_URL CHROMIUM_PATH

const { run } = require("./sign_in.cjs");

const [base, executablePath] = process.argv.slice(2);

run({
  base,
  executablePath,
  clientName: "Browser Connect Client",
  walk: async (page, out, backAtClient) => {
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
    await backAtClient(() => page.click("#allow"));
  },
});
