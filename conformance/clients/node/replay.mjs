// Replays recorded exchanges through the Node clients (openai, @anthropic-ai/sdk, the AI SDK),
// or makes a few live calls through them. Shipped with the `conformance` package and run by
// conformance/clients/node.py with the client packages installed in the tool's cache folder
// (NODE_PATH is not used: the cache folder is passed as argv[2] and modules are resolved from it).
//
// Protocol: one JSON object per line on stdin, one JSON answer per line on stdout (in any order).
//   {"id", "op": "versions"}                      -> {"id", "versions": {package: version}}
//   {"id", "op": "replay", "protocol": "openai"|"anthropic", "stream": bool, "request": {...},
//    "status": 200, "headers": {...}, "body": "<the response body as recorded>"}
//   {"id", "op": "live", "protocol", "kind": "plain"|"stream"|"tools", "base_url", "api_key",
//    "model", "headers": {...}}
//     -> {"id", "outcomes": [{"client", "version", "feature", "outcome": "works"|"breaks"|"not exercised",
//                             "detail", "result": {"text", "tool_calls": [{"name", "arguments"}], "finish_reason"}}]}
// A replay feeds the recorded bytes to each client through its own `fetch` option, so each
// client's own parser and accumulator read exactly what the server sent. Nothing leaves 127.0.0.1.

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import readline from "node:readline";

const CACHE = process.argv[2];
if (!CACHE) {
  process.stderr.write("usage: node replay.mjs CACHE_DIR\n");
  process.exit(2);
}
const requireFromCache = createRequire(join(CACHE, "package.json"));
const JOB_TIMEOUT_MS = Number(process.env.CONFORMANCE_NODE_JOB_TIMEOUT_MS || 20000);

function version(pkg) {
  try {
    const file = requireFromCache.resolve(`${pkg}/package.json`);
    return JSON.parse(readFileSync(file, "utf8")).version;
  } catch {
    try {
      return JSON.parse(readFileSync(join(CACHE, "node_modules", pkg, "package.json"), "utf8")).version;
    } catch {
      return null;
    }
  }
}

async function load(pkg) {
  const { pathToFileURL } = await import("node:url");
  let resolved;
  try {
    resolved = requireFromCache.resolve(pkg);
  } catch {
    // ESM-only packages: import by their entry point under node_modules
    const meta = JSON.parse(readFileSync(join(CACHE, "node_modules", pkg, "package.json"), "utf8"));
    const entry = (meta.exports && (meta.exports["."]?.import?.default || meta.exports["."]?.import || meta.exports["."]?.default)) || meta.module || meta.main;
    resolved = join(CACHE, "node_modules", pkg, typeof entry === "string" ? entry : "index.js");
  }
  return import(pathToFileURL(resolved).href);
}

const PACKAGES = ["openai", "@anthropic-ai/sdk", "ai", "@ai-sdk/openai-compatible", "@ai-sdk/anthropic"];
const mods = {};
const loadErrors = {};
for (const pkg of PACKAGES) {
  try {
    mods[pkg] = await load(pkg);
  } catch (err) {
    loadErrors[pkg] = `${err?.name || "Error"}: ${String(err?.message || err).slice(0, 200)}`;
  }
}

// -- helpers ---------------------------------------------------------------------------------------
function describe(err) {
  if (err === undefined || err === null) return "unknown error";
  const name = err?.constructor?.name && err.constructor.name !== "Object" ? err.constructor.name : err?.name || "Error";
  let message = err?.message ?? String(err);
  if (typeof message !== "string") message = JSON.stringify(message);
  const cause = err?.cause?.message ? ` (cause: ${String(err.cause.message).slice(0, 200)})` : "";
  return `${name}: ${message}`.slice(0, 500) + cause;
}

function withTimeout(promise, what, ms = JOB_TIMEOUT_MS) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

function parsedArguments(value) {
  if (typeof value !== "string") return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function replayFetch(job) {
  // The client's own fetch: whatever it asks, it gets the recorded response.
  return async (_url, init) => {
    try {
      // drain the request body the client built, so a client bug there surfaces here
      if (init?.body && typeof init.body !== "string" && init.body.getReader) await new Response(init.body).text();
    } catch {}
    const headers = new Headers();
    for (const [k, v] of Object.entries(job.headers || {})) {
      const key = k.toLowerCase();
      if (["content-length", "content-encoding", "transfer-encoding", "connection"].includes(key)) continue;
      try {
        headers.append(key, String(v));
      } catch {}
    }
    const bytes = new TextEncoder().encode(job.body ?? "");
    const body = new ReadableStream({
      start(controller) {
        if (bytes.length) controller.enqueue(bytes);
        controller.close();
      },
    });
    return new Response(body, { status: job.status || 200, headers });
  };
}

const SECRET_HEADERS = ["authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"];

function recordingFetch(captured) {
  // A live call: the real fetch, with the bytes kept so the exchange is judged like any other.
  return async (input, init = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    let requestBody = init.body ?? null;
    if (requestBody !== null && typeof requestBody !== "string") requestBody = await new Response(requestBody).text();
    const response = await fetch(url, { ...init, body: requestBody });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const requestHeaders = {};
    new Headers(init.headers || {}).forEach((value, key) => {
      requestHeaders[key] = SECRET_HEADERS.includes(key.toLowerCase()) ? "[REDACTED]" : value;
    });
    const headers = [];
    response.headers.forEach((value, key) => headers.push([key, value]));
    captured.push({ method: init.method || "GET", url, request_headers: requestHeaders, request_body: requestBody, status: response.status, headers, body: new TextDecoder().decode(bytes) });
    const replayHeaders = new Headers();
    for (const [key, value] of headers) if (!["content-encoding", "content-length", "transfer-encoding"].includes(key)) replayHeaders.append(key, value);
    return new Response(bytes, { status: response.status, statusText: response.statusText, headers: replayHeaders });
  };
}

function outcome(client, version, feature, fn) {
  return { client, version, feature, fn };
}

async function settle(item) {
  const { client, version, feature, fn, timeoutMs } = item;
  try {
    const result = await withTimeout(Promise.resolve().then(fn), `${client} ${feature}`, timeoutMs || JOB_TIMEOUT_MS);
    if (result && result.notExercised) return { client, version, feature, outcome: "not exercised", detail: result.notExercised, result: null };
    return { client, version, feature, outcome: "works", detail: "", result };
  } catch (err) {
    return { client, version, feature, outcome: "breaks", detail: describe(err), result: null };
  }
}

function missing(pkgs) {
  for (const pkg of pkgs) {
    if (!mods[pkg]) return `${pkg} is not installed in ${CACHE}${loadErrors[pkg] ? ` (${loadErrors[pkg]})` : ""}`;
  }
  return null;
}

// -- normalised results ----------------------------------------------------------------------------
function fromChatCompletion(completion) {
  if (completion === null || typeof completion !== "object") {
    throw new TypeError(`the client returned ${completion === null ? "null" : typeof completion} instead of a chat completion`);
  }
  const choice = (completion.choices || [])[0];
  if (!choice) return { text: null, tool_calls: [], finish_reason: null, choices: (completion.choices || []).length };
  const message = choice.message || {};
  return {
    text: typeof message.content === "string" ? message.content : message.content ?? null,
    tool_calls: (message.tool_calls || []).map((c) => ({ name: c?.function?.name ?? null, arguments: parsedArguments(c?.function?.arguments) })),
    finish_reason: choice.finish_reason ?? null,
    choices: (completion.choices || []).length,
  };
}

function accumulateChunks(chunks) {
  // What an application iterating `for await (const chunk of stream)` typically builds.
  let text = null;
  const calls = [];
  let finish = null;
  for (const chunk of chunks) {
    if (chunk === null || typeof chunk !== "object") throw new TypeError(`the stream yielded ${chunk === null ? "null" : typeof chunk} instead of a chunk object`);
    for (const choice of chunk.choices || []) {
      if ((choice.index ?? 0) !== 0) continue;
      const delta = choice.delta || {};
      if (typeof delta.content === "string") text = (text ?? "") + delta.content;
      for (const call of delta.tool_calls || []) {
        const i = call.index ?? 0;
        calls[i] ??= { name: "", arguments: "" };
        if (call.function?.name) calls[i].name = call.function.name;
        if (typeof call.function?.arguments === "string") calls[i].arguments += call.function.arguments;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, tool_calls: calls.filter(Boolean).map((c) => ({ name: c.name, arguments: parsedArguments(c.arguments) })), finish_reason: finish };
}

function fromMessage(message) {
  if (message === null || typeof message !== "object") {
    throw new TypeError(`the client returned ${message === null ? "null" : typeof message} instead of a message`);
  }
  const content = Array.isArray(message.content) ? message.content : [];
  const texts = content.filter((b) => b?.type === "text").map((b) => b.text ?? "");
  return {
    text: texts.length ? texts.join("") : null,
    tool_calls: content.filter((b) => b?.type === "tool_use").map((b) => ({ name: b.name ?? null, arguments: b.input ?? null })),
    finish_reason: message.stop_reason ?? null,
  };
}

function accumulateEvents(events) {
  // What an application iterating the raw Anthropic event stream typically builds (leniently:
  // only what the client itself yields or drops makes a difference).
  const blocks = [];
  let stop = null;
  for (const event of events) {
    if (event === null || typeof event !== "object") throw new TypeError("the stream yielded a non-object event");
    if (event.type === "content_block_start") blocks[event.index] = { ...event.content_block, _json: "" };
    else if (event.type === "content_block_delta") {
      const block = blocks[event.index] ?? blocks.filter(Boolean).at(-1);
      if (!block) continue;
      if (event.delta?.type === "text_delta") block.text = (block.text ?? "") + event.delta.text;
      else if (event.delta?.type === "input_json_delta") block._json += event.delta.partial_json ?? "";
    } else if (event.type === "message_delta") stop = event.delta?.stop_reason ?? stop;
  }
  const content = blocks.filter(Boolean).map((b) => (b.type === "tool_use" ? { ...b, input: b._json ? parsedArguments(b._json) : b.input } : b));
  return fromMessage({ content, stop_reason: stop });
}

function fromAiSdk(result) {
  const calls = (result.toolCalls || []).map((c) => {
    if (c.invalid) throw new Error(`the AI SDK rejected tool call ${c.toolName}: ${describe(c.error)}`);
    return { name: c.toolName, arguments: parsedArguments(c.input) };
  });
  return { text: result.text === "" && calls.length ? null : result.text, tool_calls: calls, finish_reason: result.finishReason ?? null };
}

// -- the AI SDK ------------------------------------------------------------------------------------
function aiTools(job) {
  const ai = mods["ai"];
  const out = {};
  for (const t of job.request?.tools || []) {
    let name, schema;
    if (job.protocol === "openai") {
      if (t?.type !== "function" || !t.function?.name) continue;
      name = t.function.name;
      schema = t.function.parameters;
    } else {
      if (!t?.name || (t.type && t.type !== "custom")) continue;
      name = t.name;
      schema = t.input_schema;
    }
    out[name] = ai.tool({ description: (job.protocol === "openai" ? t.function.description : t.description) || name, inputSchema: ai.jsonSchema(schema && typeof schema === "object" ? schema : { type: "object", properties: {} }) });
  }
  return Object.keys(out).length ? out : undefined;
}

function aiModel(job, fetchImpl) {
  const model = String(job.request?.model || job.model || "model");
  if (job.protocol === "openai") {
    const provider = mods["@ai-sdk/openai-compatible"].createOpenAICompatible({
      name: "target",
      baseURL: job.base_url || "http://127.0.0.1:9/v1",
      apiKey: job.api_key || "sk-replay",
      headers: job.headers || undefined,
      includeUsage: job.request?.stream_options?.include_usage === true,
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
    return provider.chatModel(model);
  }
  const provider = mods["@ai-sdk/anthropic"].createAnthropic({
    baseURL: job.base_url || "http://127.0.0.1:9/v1",
    apiKey: job.api_key || "sk-replay",
    headers: job.headers || undefined,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  return provider(model);
}

function aiPrompt(job) {
  const maxOutputTokens = job.protocol === "anthropic" ? job.request?.max_tokens : job.request?.max_completion_tokens ?? job.request?.max_tokens;
  return {
    prompt: job.prompt || "Say hello.",
    tools: aiTools(job),
    maxRetries: 0,
    ...(typeof maxOutputTokens === "number" && maxOutputTokens > 0 ? { maxOutputTokens } : {}),
  };
}

async function aiGenerate(job, fetchImpl) {
  const ai = mods["ai"];
  const result = await ai.generateText({ model: aiModel(job, fetchImpl), ...aiPrompt(job) });
  return fromAiSdk(result);
}

async function aiStream(job, fetchImpl) {
  const ai = mods["ai"];
  const errors = [];
  const result = ai.streamText({ model: aiModel(job, fetchImpl), ...aiPrompt(job), onError: ({ error }) => errors.push(error) });
  for await (const part of result.fullStream) {
    if (part.type === "error") errors.push(part.error);
  }
  if (errors.length) throw errors[0];
  const [text, toolCalls, finishReason] = await Promise.all([result.text, result.toolCalls, result.finishReason]);
  return fromAiSdk({ text, toolCalls, finishReason });
}

// -- the clients, per protocol ---------------------------------------------------------------------
function openaiClient(job, fetchImpl) {
  const OpenAI = mods["openai"].default || mods["openai"].OpenAI;
  return new OpenAI({ apiKey: job.api_key || "sk-replay", baseURL: job.base_url || "http://127.0.0.1:9/v1", maxRetries: 0, defaultHeaders: job.headers || undefined, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
}

function anthropicClient(job, fetchImpl) {
  const Anthropic = mods["@anthropic-ai/sdk"].default || mods["@anthropic-ai/sdk"].Anthropic;
  return new Anthropic({ apiKey: job.api_key || "sk-replay", baseURL: (job.base_url || "http://127.0.0.1:9/v1").replace(/\/v1\/?$/, ""), maxRetries: 0, defaultHeaders: job.headers || undefined, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
}

function clientsFor(job, fetchFor) {
  const request = { ...(job.request || {}) };
  const items = [];
  const v = (pkg) => version(pkg) || "?";
  const aiVersion = (provider) => `${v("ai")} (${provider} ${v(provider)})`;
  const guard = (pkgs, fn) => () => {
    const why = missing(pkgs);
    return why ? { notExercised: why } : fn();
  };
  if (job.protocol === "openai") {
    if (job.stream) {
      items.push(outcome("openai-node", v("openai"), "chat.completions.create stream", guard(["openai"], async () => {
        const stream = await openaiClient(job, fetchFor()).chat.completions.create({ ...request, stream: true });
        const chunks = [];
        for await (const chunk of stream) chunks.push(chunk);
        return accumulateChunks(chunks);
      })));
      items.push(outcome("openai-node", v("openai"), "chat.completions.stream finalChatCompletion", guard(["openai"], async () => {
        const { stream: _s, ...rest } = request;
        const runner = openaiClient(job, fetchFor()).chat.completions.stream(rest);
        return fromChatCompletion(await runner.finalChatCompletion());
      })));
      items.push(outcome("ai-sdk", aiVersion("@ai-sdk/openai-compatible"), "streamText openai-compatible", guard(["ai", "@ai-sdk/openai-compatible"], () => aiStream(job, fetchFor()))));
    } else {
      items.push(outcome("openai-node", v("openai"), "chat.completions.create", guard(["openai"], async () => fromChatCompletion(await openaiClient(job, fetchFor()).chat.completions.create({ ...request, stream: false })))));
      items.push(outcome("ai-sdk", aiVersion("@ai-sdk/openai-compatible"), "generateText openai-compatible", guard(["ai", "@ai-sdk/openai-compatible"], () => aiGenerate(job, fetchFor()))));
    }
  } else {
    if (job.stream) {
      items.push(outcome("anthropic-node", v("@anthropic-ai/sdk"), "messages.create stream", guard(["@anthropic-ai/sdk"], async () => {
        const stream = await anthropicClient(job, fetchFor()).messages.create({ ...request, stream: true });
        const events = [];
        for await (const event of stream) events.push(event);
        return accumulateEvents(events);
      })));
      items.push(outcome("anthropic-node", v("@anthropic-ai/sdk"), "messages.stream finalMessage", guard(["@anthropic-ai/sdk"], async () => {
        const { stream: _s, ...rest } = request;
        return fromMessage(await anthropicClient(job, fetchFor()).messages.stream(rest).finalMessage());
      })));
      items.push(outcome("ai-sdk", aiVersion("@ai-sdk/anthropic"), "streamText anthropic", guard(["ai", "@ai-sdk/anthropic"], () => aiStream(job, fetchFor()))));
    } else {
      items.push(outcome("anthropic-node", v("@anthropic-ai/sdk"), "messages.create", guard(["@anthropic-ai/sdk"], async () => fromMessage(await anthropicClient(job, fetchFor()).messages.create({ ...request, stream: false })))));
      items.push(outcome("ai-sdk", aiVersion("@ai-sdk/anthropic"), "generateText anthropic", guard(["ai", "@ai-sdk/anthropic"], () => aiGenerate(job, fetchFor()))));
    }
  }
  return items;
}

// -- live calls ------------------------------------------------------------------------------------
const LIVE_TOOL = { name: "get_weather", description: "Get the current weather for a city.", schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

function liveJob(job) {
  const prompt = job.kind === "tools" ? "What is the weather in Paris? Use the get_weather tool." : "Say hello in one short sentence.";
  const request = { model: job.model, max_tokens: 256 };
  if (job.protocol === "openai") {
    request.messages = [{ role: "user", content: prompt }];
    if (job.kind === "tools") {
      request.tools = [{ type: "function", function: { name: LIVE_TOOL.name, description: LIVE_TOOL.description, parameters: LIVE_TOOL.schema } }];
      request.tool_choice = "required";
    }
  } else {
    request.messages = [{ role: "user", content: prompt }];
    if (job.kind === "tools") {
      request.tools = [{ name: LIVE_TOOL.name, description: LIVE_TOOL.description, input_schema: LIVE_TOOL.schema }];
      request.tool_choice = { type: "any" };
    }
  }
  return { ...job, request, stream: job.kind === "stream", prompt };
}

function liveCheck(kind) {
  return (result) => {
    if (kind === "tools") {
      if (!result.tool_calls?.length) throw new Error("no tool call came back although the request required one");
      if (result.tool_calls[0].name !== LIVE_TOOL.name) throw new Error(`tool call names ${result.tool_calls[0].name}, not ${LIVE_TOOL.name}`);
    } else if (!result.text) {
      throw new Error("no text came back");
    }
    return result;
  };
}

async function runJob(job) {
  if (job.op === "versions") {
    return { versions: Object.fromEntries(PACKAGES.map((p) => [p, version(p)])), errors: loadErrors };
  }
  if (job.op === "replay") {
    const items = clientsFor(job, () => replayFetch(job));
    return { outcomes: await Promise.all(items.map(settle)) };
  }
  if (job.op === "live") {
    const live = liveJob(job);
    const captured = [];
    const items = clientsFor(live, () => recordingFetch(captured));
    for (const item of items) {
      const fn = item.fn;
      item.fn = async () => {
        const out = await fn();
        return out?.notExercised ? out : liveCheck(job.kind)(out);
      };
      item.feature = `live ${job.kind}: ${item.feature}`;
      item.timeoutMs = Number(job.timeout_ms) || JOB_TIMEOUT_MS;
    }
    const outcomes = await Promise.all(items.map(settle));
    return { outcomes, exchanges: captured };
  }
  throw new Error(`unknown op ${job.op}`);
}

// Unhandled rejections inside a client must not kill the process: they are reported per job.
process.on("unhandledRejection", () => {});

// Jobs run concurrently (answers carry their id; the caller matches them), so a batch costs
// about as long as its slowest replay rather than the sum.
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const pending = new Set();
rl.on("line", (line) => {
  if (!line.trim()) return;
  const task = (async () => {
    let job;
    try {
      job = JSON.parse(line);
    } catch (err) {
      process.stdout.write(JSON.stringify({ id: null, error: `unreadable job: ${describe(err)}` }) + "\n");
      return;
    }
    try {
      const answer = await runJob(job);
      process.stdout.write(JSON.stringify({ id: job.id ?? null, ...answer }) + "\n");
    } catch (err) {
      process.stdout.write(JSON.stringify({ id: job.id ?? null, error: describe(err) }) + "\n");
    }
  })();
  pending.add(task);
  task.finally(() => pending.delete(task));
});
rl.on("close", () => {
  Promise.allSettled([...pending]).then(() => process.exit(0));
});
