// Generates schema.json (shipped in the package, for "$schema" in .sandboxrc.json) from the one
// valibot schema in src/settings/schema.ts, after the build.
import { writeFileSync } from "node:fs";
import { toJsonSchema } from "@valibot/to-json-schema";
import { SettingsSchema } from "../dist/settings/schema.js";

const schema = {
  ...toJsonSchema(SettingsSchema, { target: "draft-07" }),
  title:
    'safe-npm settings (.sandboxrc, .sandboxrc.json|yaml|yml, package.json "sandbox", ~/.config/safe-npm/config.json)',
};
writeFileSync(new URL("../schema.json", import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
