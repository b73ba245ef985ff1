// What MCPB's own launcher code makes of a bundle: getMcpConfigForManifest (the function the
// mcpb package gives hosts to start a bundle's server) on a manifest, with a user config, and
// the bundle's folder as ${__dirname}. Prints the MCP config it would start, as JSON.
//
// node mcpb_launch.mjs <mcpb dist/index.js> <manifest.json> <bundle dir> <user config JSON>
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modulePath, manifestPath, dir, userConfig] = process.argv.slice(2);
const { getMcpConfigForManifest } = await import(pathToFileURL(modulePath).href);
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: dir,
  systemDirs: {},
  userConfig: JSON.parse(userConfig),
  pathSeparator: "/",
});
console.log(JSON.stringify(config ?? null));
