#!/usr/bin/env node
// Generates a REAL OTLP/JSON ExportTraceServiceRequest for opsmeter_ingest_otlp
// tests (issue #17): the official `openai` client, instrumented by
// @opentelemetry/instrumentation-openai, talks to a fake OpenAI server on
// 127.0.0.1; the finished spans are serialised with otlp-transformer's
// JsonTraceSerializer (the same bytes an OTLP/HTTP JSON exporter would POST).
//
//   node test/otel/generate.mjs BODY.json EXPECTED.json
//
// BODY.json      the OTLP/JSON body, exactly as the serializer produced it
// EXPECTED.json  one object per OpenAI call, in call order (see README.md)
//
// Only a one-line summary goes to stdout.  Exit status 0 on success; on any
// mismatch between what the server answered and what the spans say, a message
// on stderr and exit status 1.
//
// This file is ESM, but the OpenTelemetry packages and `openai` are loaded with
// require() (createRequire): require-in-the-middle then patches `openai` when it
// is first required, which must happen AFTER registerInstrumentations().  A
// static `import OpenAI from 'openai'` would be hoisted above the registration
// and would need the import-in-the-middle loader hook instead.

import { createRequire } from 'node:module';
import http from 'node:http';
import fs from 'node:fs';

const require = createRequire(import.meta.url);

const [, , bodyPath, expectedPath] = process.argv;
if (!bodyPath || !expectedPath) {
  process.stderr.write('usage: node generate.mjs BODY.json EXPECTED.json\n');
  process.exit(2);
}

// Never hang: the whole run takes well under a second.
const guard = setTimeout(() => {
  process.stderr.write('generate.mjs: timed out after 30 s\n');
  process.exit(1);
}, 30000);
guard.unref();

// ---------------------------------------------------------------------------
// The script: every OpenAI call, in order, with what the fake server answers.
// ---------------------------------------------------------------------------
const CHAT_PATH = '/v1/chat/completions';
const RESPONSES_PATH = '/v1/responses';
const EMBEDDINGS_PATH = '/v1/embeddings';

const CALLS = [
  {
    api: 'chat.completions', path: CHAT_PATH, operation: 'chat',
    requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18',
    id: 'chatcmpl-fake-1', user: 'user-42',
    usage: { prompt: 120, completion: 35, cached: 0, reasoning: 0 },
  },
  {
    // prompt caching: 1536 of the 2048 prompt tokens were cached
    api: 'chat.completions', path: CHAT_PATH, operation: 'chat',
    requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18',
    id: 'chatcmpl-fake-2', user: null,
    usage: { prompt: 2048, completion: 64, cached: 1536, reasoning: 0 },
  },
  {
    // reasoning model: 384 of the 480 completion tokens are reasoning tokens
    api: 'chat.completions', path: CHAT_PATH, operation: 'chat',
    requestModel: 'o4-mini', responseModel: 'o4-mini-2025-04-16',
    id: 'chatcmpl-fake-3', user: null,
    usage: { prompt: 310, completion: 480, cached: 0, reasoning: 384 },
  },
  {
    // HTTP 429: the client raises RateLimitError (maxRetries: 0)
    api: 'chat.completions', path: CHAT_PATH, operation: 'chat',
    requestModel: 'gpt-4o-mini', responseModel: null,
    id: null, user: null, status: 429, requestId: 'req_fake_4',
    usage: null,
  },
  {
    // the newer Responses API (the instrumentation emits gen_ai.provider.name
    // here instead of gen_ai.system)
    api: 'responses', path: RESPONSES_PATH, operation: 'chat',
    requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18',
    id: 'resp_fake_5', user: null,
    usage: { prompt: 95, completion: 22, cached: 0, reasoning: 0 },
  },
  {
    // embeddings responses carry no id and no completion tokens
    api: 'embeddings', path: EMBEDDINGS_PATH, operation: 'embeddings',
    requestModel: 'text-embedding-3-small', responseModel: 'text-embedding-3-small',
    id: null, user: null,
    usage: { prompt: 8, completion: 0, cached: 0, reasoning: 0 },
  },
];

const CREATED = 1735689600; // 2025-01-01T00:00:00Z, fixed

function chatCompletionBody(c) {
  return {
    id: c.id,
    object: 'chat.completion',
    created: CREATED,
    model: c.responseModel,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Hello from the fake OpenAI server.',
          refusal: null,
          annotations: [],
        },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: c.usage.prompt,
      completion_tokens: c.usage.completion,
      total_tokens: c.usage.prompt + c.usage.completion,
      prompt_tokens_details: { cached_tokens: c.usage.cached, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: c.usage.reasoning,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_fake0001',
  };
}

function responsesBody(c) {
  return {
    id: c.id,
    object: 'response',
    created_at: CREATED,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model: c.responseModel,
    output: [
      {
        type: 'message',
        id: 'msg_fake_5',
        status: 'completed',
        role: 'assistant',
        content: [
          { type: 'output_text', text: 'Hello from the fake OpenAI server.', annotations: [] },
        ],
      },
    ],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1.0,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1.0,
    truncation: 'disabled',
    usage: {
      input_tokens: c.usage.prompt,
      input_tokens_details: { cached_tokens: c.usage.cached },
      output_tokens: c.usage.completion,
      output_tokens_details: { reasoning_tokens: c.usage.reasoning },
      total_tokens: c.usage.prompt + c.usage.completion,
    },
    user: null,
    metadata: {},
  };
}

const EMBEDDING = [0.0123, -0.0456, 0.0789, -0.0012, 0.0345, -0.0678, 0.0901, -0.0234];

function embeddingsBody(c, encodingFormat) {
  const embedding = encodingFormat === 'base64'
    ? Buffer.from(new Float32Array(EMBEDDING).buffer).toString('base64')
    : EMBEDDING;
  return {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding }],
    model: c.responseModel,
    usage: { prompt_tokens: c.usage.prompt, total_tokens: c.usage.prompt },
  };
}

function rateLimitBody(c) {
  return {
    error: {
      message: `Rate limit reached for ${c.requestModel} in organization org-fake on ` +
        'requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.',
      type: 'requests',
      param: null,
      code: 'rate_limit_exceeded',
    },
  };
}

// ---------------------------------------------------------------------------
// Fake OpenAI server: answers the scripted calls in order, checks each request.
// ---------------------------------------------------------------------------
let nextCall = 0;
const serverErrors = [];

function startServer() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const send = (status, body, headers = {}) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          'openai-processing-ms': '42',
          'openai-version': '2020-10-01',
          ...headers,
        });
        res.end(text);
      };
      const idx = nextCall++;
      const c = CALLS[idx];
      let reqBody = null;
      try {
        reqBody = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        // fall through: reported below
      }
      if (!c || req.method !== 'POST' || req.url !== c.path || !reqBody ||
          reqBody.model !== c.requestModel ||
          (c.user != null && reqBody.user !== c.user)) {
        serverErrors.push(`request #${idx + 1}: unexpected ${req.method} ${req.url} ` +
          `model=${reqBody && reqBody.model} (expected ${c ? `${c.path} model=${c.requestModel}` : 'no request'})`);
        send(400, { error: { message: 'unexpected request', type: 'invalid_request_error', param: null, code: null } });
        return;
      }
      const reqId = { 'x-request-id': c.requestId || `req_fake_${idx + 1}` };
      if (c.status === 429) {
        send(429, rateLimitBody(c), {
          ...reqId,
          'retry-after': '20',
          'x-ratelimit-limit-requests': '3',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '20s',
        });
      } else if (c.api === 'chat.completions') {
        send(200, chatCompletionBody(c), reqId);
      } else if (c.api === 'responses') {
        send(200, responsesBody(c), reqId);
      } else {
        send(200, embeddingsBody(c, reqBody.encoding_format), reqId);
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// ---------------------------------------------------------------------------
// OpenTelemetry: provider, deterministic ids, instrumentation -- then openai.
// ---------------------------------------------------------------------------
const { trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { OpenAIInstrumentation } = require('@opentelemetry/instrumentation-openai');
const { JsonTraceSerializer } = require('@opentelemetry/otlp-transformer');

// Fixed, increasing ids so the body is stable from run to run (apart from
// timestamps and server.port) and span order = creation order.
// "4f70736d65746572" is "Opsmeter" in ASCII hex.
let traceSeq = 0;
let spanSeq = 0;
const idGenerator = {
  generateTraceId: () => '4f70736d65746572' + (++traceSeq).toString(16).padStart(16, '0'),
  generateSpanId: () => (++spanSeq).toString(16).padStart(16, '0'),
};

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    'service.name': 'otel-test',
    'deployment.environment.name': 'production',
  }),
  idGenerator,
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
provider.register(); // global tracer provider + AsyncLocalStorage context manager

registerInstrumentations({
  tracerProvider: provider,
  instrumentations: [new OpenAIInstrumentation()],
});

const OpenAI = require('openai'); // patched now

// ---------------------------------------------------------------------------
// The calls.
// ---------------------------------------------------------------------------
async function main() {
  const server = await startServer();
  const { port } = server.address();
  const client = new OpenAI({
    apiKey: 'sk-fake-opsmeter-test',
    baseURL: `http://127.0.0.1:${port}/v1`,
    maxRetries: 0,
    timeout: 10000,
  });
  const tracer = trace.getTracer('opsmeter-otel-test', '0.0.0');

  const outcomes = []; // per call: { failed, errorClass }
  for (const c of CALLS) {
    try {
      if (c.api === 'chat.completions') {
        const params = {
          model: c.requestModel,
          messages: [
            { role: 'system', content: 'You are a terse assistant.' },
            { role: 'user', content: 'Say hello.' },
          ],
        };
        if (c.user != null) params.user = c.user;
        if (c.usage && c.usage.reasoning > 0) params.max_completion_tokens = 1024;
        else params.temperature = 0.2;
        await client.chat.completions.create(params);
      } else if (c.api === 'responses') {
        await client.responses.create({ model: c.requestModel, input: 'Say hello.' });
      } else {
        await client.embeddings.create({
          model: c.requestModel,
          input: 'The quick brown fox jumps over the lazy dog',
          encoding_format: 'float',
        });
      }
      outcomes.push({ failed: false, errorClass: null });
    } catch (err) {
      outcomes.push({ failed: true, errorClass: err?.constructor?.name ?? null, status: err?.status });
    }

    // One plain, non-GenAI span that opsmeter must skip.
    if (c.id === 'chatcmpl-fake-2') {
      const span = tracer.startSpan('db.query', {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'postgresql',
          'db.operation.name': 'SELECT',
          'db.query.text': 'SELECT id FROM orders WHERE customer_id = $1',
          'db.response.returned_rows': 3,
        },
      });
      span.setStatus({ code: SpanStatusCode.OK });
      span.end();
    }
  }

  // The instrumentation ends its span in a .then()/.catch() on the client's
  // promise, possibly a tick after our await returned: wait for all of them.
  const wanted = CALLS.length + 1;
  for (let i = 0; i < 200 && exporter.getFinishedSpans().length < wanted; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await provider.forceFlush();
  server.close();

  const spans = exporter.getFinishedSpans().slice()
    .sort((a, b) => (a.spanContext().spanId < b.spanContext().spanId ? -1 : 1));

  const problems = [...serverErrors];
  if (nextCall !== CALLS.length) problems.push(`server saw ${nextCall} requests, expected ${CALLS.length}`);
  if (spans.length !== wanted) problems.push(`got ${spans.length} finished spans, expected ${wanted}`);

  // GenAI spans in creation order <-> CALLS in order.
  const genai = spans.filter((s) => 'gen_ai.operation.name' in s.attributes);
  if (genai.length !== CALLS.length) problems.push(`got ${genai.length} GenAI spans, expected ${CALLS.length}`);

  const expected = CALLS.map((c, i) => {
    const s = genai[i];
    const a = s ? s.attributes : {};
    const o = outcomes[i];
    const failed = c.status === 429;
    if (o.failed !== failed) problems.push(`call ${i + 1}: failed=${o.failed}, expected ${failed}`);
    if (failed && o.status !== 429) problems.push(`call ${i + 1}: client error status ${o.status}, expected 429`);
    if (s) {
      if (a['gen_ai.request.model'] !== c.requestModel) problems.push(`span ${i + 1}: request model ${a['gen_ai.request.model']}`);
      if (c.id != null && a['gen_ai.response.id'] !== c.id) problems.push(`span ${i + 1}: response id ${a['gen_ai.response.id']}`);
      if (failed && s.status.code !== SpanStatusCode.ERROR) problems.push(`span ${i + 1}: status not ERROR`);
      if (failed && a['error.type'] !== o.errorClass) problems.push(`span ${i + 1}: error.type ${a['error.type']} != ${o.errorClass}`);
      if (!failed && a['gen_ai.usage.input_tokens'] !== c.usage.prompt) problems.push(`span ${i + 1}: input tokens ${a['gen_ai.usage.input_tokens']}`);
    }
    return {
      api: c.api,
      operation: c.operation,
      responseId: c.id,
      requestModel: c.requestModel,
      responseModel: c.responseModel,
      inputTokens: c.usage ? c.usage.prompt : null,
      outputTokens: c.usage ? c.usage.completion : null,
      cachedInputTokens: c.usage ? c.usage.cached : null,
      reasoningTokens: c.usage ? c.usage.reasoning : null,
      user: c.user,
      failed,
      errorType: failed ? (a['error.type'] ?? o.errorClass) : null,
      httpStatus: c.status || 200,
    };
  });

  if (problems.length) {
    process.stderr.write(`generate.mjs: ${problems.length} problem(s):\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }

  // All finished spans, one request body, exactly the serializer's bytes.
  const body = JsonTraceSerializer.serializeRequest(spans);
  if (!body) {
    process.stderr.write('generate.mjs: JsonTraceSerializer returned nothing\n');
    process.exit(1);
  }
  fs.writeFileSync(bodyPath, Buffer.from(body));
  fs.writeFileSync(expectedPath, JSON.stringify(expected, null, 2) + '\n');

  await provider.shutdown();
  process.stdout.write(`otel: ${spans.length} spans (${genai.length} GenAI, ` +
    `${spans.length - genai.length} other, ${expected.filter((e) => e.failed).length} failed) ` +
    `-> ${bodyPath} (${body.length} bytes), ${expectedPath}\n`);
}

main().catch((err) => {
  process.stderr.write(`generate.mjs: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
