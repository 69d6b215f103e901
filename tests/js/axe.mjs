// axe-core in Debian's headless Chromium, driven by playwright-core (never a downloaded
// browser). Called by tests/conformance.py:
//
//   node axe.mjs --chromium /usr/bin/chromium --widths 1280,390 --schemes light,dark \
//                --shots DIR [--dom] URL...
//
// For each URL, width and colour scheme: load the page, run axe at WCAG 2.1 AA, save a
// full-page screenshot in DIR. Chromium's own XSLT deprecation banner is removed first (it
// is browser UI, not the page). Prints one JSON document on stdout:
//   {"results": [{"url", "width", "scheme", "screenshot", "violations": [...], "html"?}]}
// With --dom, "html" is the rendered document (after XSLT, for a feed) at the first width.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const HEIGHT = 900;

const { values, positionals: urls } = parseArgs({
  allowPositionals: true,
  options: {
    chromium: { type: "string", default: "/usr/bin/chromium" },
    widths: { type: "string", default: "1280,390" },
    schemes: { type: "string", default: "light" },
    shots: { type: "string" },
    dom: { type: "boolean", default: false },
  },
});
const widths = values.widths.split(",").map(Number);
const schemes = values.schemes.split(",");

// A name for the screenshot file from the URL's path and query: "categoria-cronaca-pagina-2",
// "ricerca-q-lago".
function shotName(url, width, scheme) {
  const { pathname, search } = new URL(url);
  const name = (pathname + search).replace(/[^A-Za-z0-9.]+/g, "-").replace(/^-+|-+$/g, "");
  return `${name || "home"}-${width}-${scheme}.png`;
}

// Chromium's own notice that XSLT is going away: browser UI laid over the page, not ours.
const BANNER = "xslt-warning-banner";

// The page as loaded: Chromium's banner removed, the document's HTML (before axe adds its
// script) when asked, then axe's findings. A feed's XSLT result replaces the document
// after "load", so a run that loses its document starts again in the new one.
async function inspect(page, wantDom) {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.waitForLoadState("load");
      const html = await page.evaluate(
        ([banner, wantDom]) => {
          for (const node of document.querySelectorAll(banner)) node.remove();
          if (!wantDom) return null;
          const type = document.doctype;
          return (type ? `<!DOCTYPE ${type.name}>\n` : "") + document.documentElement.outerHTML;
        },
        [BANNER, wantDom],
      );
      await page.addScriptTag({ path: AXE });
      const axe = await page.evaluate(
        (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags } }),
        TAGS,
      );
      return { axe, html };
    } catch (error) {
      if (attempt >= 5 || !String(error).includes("context was destroyed")) throw error;
    }
  }
}

const profile = mkdtempSync(join(tmpdir(), "rassegna-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: values.chromium,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: widths[0], height: HEIGHT },
});
const results = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  for (const url of urls) {
    for (const [n, width] of widths.entries()) {
      for (const scheme of schemes) {
        await page.setViewportSize({ width, height: HEIGHT });
        await page.emulateMedia({ colorScheme: scheme });
        const response = await page.goto(url, { waitUntil: "load" });
        const wantDom = values.dom && n === 0 && scheme === schemes[0];
        const { axe, html } = await inspect(page, wantDom);
        const result = {
          url,
          width,
          scheme,
          status: response ? response.status() : 0,
          violations: axe.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.map((node) => ({
              target: node.target,
              html: node.html,
              summary: node.failureSummary,
            })),
          })),
        };
        if (values.shots) {
          result.screenshot = join(values.shots, shotName(url, width, scheme));
          await page.screenshot({ path: result.screenshot, fullPage: true });
        }
        if (wantDom) result.html = html;
        results.push(result);
      }
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify({ results }) + "\n");
