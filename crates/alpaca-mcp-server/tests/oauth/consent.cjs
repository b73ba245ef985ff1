// The owner's consent page (`--auth owner`) in a real browser: checks what the page says,
// submits a wrong passphrase (refused, no redirect), then the right one with "read and
// trade", back to the client. The rest is sign_in.cjs. Run by tests/it/oauth_browser.rs.
//
// Usage: node consent.cjs BASE_URL PASSPHRASE CHROMIUM_PATH

const { run } = require("./sign_in.cjs");

const [base, passphrase, executablePath] = process.argv.slice(2);

run({
  base,
  executablePath,
  clientName: "Browser Test Client",
  walk: async (page, out, backAtClient) => {
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
    await backAtClient(() => page.click("button[value=approve]"));
  },
});
