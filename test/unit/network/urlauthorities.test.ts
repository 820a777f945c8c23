import { describe, expect, it } from "vitest";
import { urlAuthorities } from "../../../src/network/registries.js";

describe("urlAuthorities: every //host[:port] a config text spells", () => {
  it.each([
    [
      'npmScopes: {corp: {npmRegistryServer: "http://localhost:4873", npmAuthToken: X}}',
      ["localhost:4873"],
    ],
    ["npm_config_//localhost:4874/:_authToken=ENV", ["localhost:4874"]],
    ['? "//127.1:04875"\n  : x', ["127.0.0.1:4875"]],
    ["//[::1]:4876/:_auth=x", ["[::1]:4876"]],
    ["registry=https://registry.npmjs.org/", ["registry.npmjs.org:443"]],
    ["@x:registry=http://verdaccio.local/", ["verdaccio.local:80"]],
    ["//npm.corp.example/:_authToken=x", ["npm.corp.example:443", "npm.corp.example:80"]],
    ["no url here: a/b c:d", []],
    ["registry=http://u:p@127.0.0.1:4877/", ["127.0.0.1:4877"]],
  ])("%j", (text, expected) => {
    expect(urlAuthorities(text).sort()).toEqual([...expected].sort());
  });
});
