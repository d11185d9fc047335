// An agent host as the TypeScript MCP SDK builds it, against a running gateway.
//
//   node client.mjs BASE_URL API_KEY
//
// 1. Every tool's published examples (arguments and results, from GET /v1/tools) are checked
//    with ajv and ajv-formats in strict format mode, as the SDK and many hosts check them.
// 2. Over MCP (streamable HTTP) it lists the tools and calls every one with each of its
//    example arguments. The SDK's client validates structuredContent against the tool's
//    outputSchema itself (ajv with formats); each result is also checked here with strict
//    JSON Schema 2020-12, so a schema mismatch is reported either way.
// 3. One refused call, to see that an error reads as an error (isError, the error object in
//    the text content) and not as a schema mismatch.
//
// Prints one JSON summary on stdout; exits 1 when anything failed.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [base, key] = process.argv.slice(2);
if (!base || !key) {
  console.error("usage: node client.mjs BASE_URL API_KEY");
  process.exit(2);
}
const headers = { authorization: `Bearer ${key}` };
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);

const summary = { examples: {}, calls: {}, error_call: null, failures: [] };
const fail = (what, detail) => summary.failures.push({ what, detail });

function check(schema, value) {
  const validate = ajv.compile(schema);
  return validate(value) ? null : ajv.errorsText(validate.errors);
}

const listing = await (await fetch(`${base}/v1/tools`, { headers })).json();
for (const tool of listing.tools) {
  let checked = 0;
  for (const [side, schema] of [["input", tool.input_schema], ["output", tool.output_schema]]) {
    for (const example of schema.examples ?? []) {
      const { examples, ...bare } = schema;
      const problem = check(bare, example);
      if (problem) fail(`${tool.name} ${side} example`, problem);
      checked += 1;
    }
  }
  summary.examples[tool.name] = checked;
}

const client = new Client({ name: "legacy-gateway-ts-check", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
  requestInit: { headers },
});
await client.connect(transport);
const { tools } = await client.listTools();
const examplesOf = Object.fromEntries(
  listing.tools.map((tool) => [tool.name, tool.input_schema.examples ?? [{}]]),
);
for (const tool of tools) {
  const outcomes = [];
  for (const args of examplesOf[tool.name] ?? [{}]) {
    try {
      const result = await client.callTool({ name: tool.name, arguments: args });
      if (result.isError) {
        fail(`${tool.name} call`, result.content?.[0]?.text);
        outcomes.push("error");
        continue;
      }
      if (tool.outputSchema) {
        const problem = check(tool.outputSchema, result.structuredContent);
        if (problem) fail(`${tool.name} result`, problem);
      }
      outcomes.push(result._meta?.legacy_gateway?.status ?? "ok");
    } catch (error) {
      fail(`${tool.name} call`, String(error));
      outcomes.push("thrown");
    }
  }
  summary.calls[tool.name] = outcomes;
}

const refused = tools.find((tool) => tool.name === "get_customer") ?? tools[0];
try {
  const result = await client.callTool({ name: refused.name, arguments: { no_such_argument: 1 } });
  const error = JSON.parse(result.content[0].text).error;
  summary.error_call = {
    is_error: result.isError === true,
    code: error.code,
    structured: result.structuredContent ?? null,
  };
} catch (error) {
  fail("error call", String(error));
}
await client.close();
console.log(JSON.stringify(summary));
process.exit(summary.failures.length ? 1 : 0);
