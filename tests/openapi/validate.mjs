// tests/openapi/validate.mjs: checks an OpenAPI document and real answers against it.
//
//   node validate.mjs DOCUMENT.json ANSWERS.json [--some]
//
// DOCUMENT is what GET /openapi.json served; ANSWERS a JSON array of the answers a client got,
// each {method, path (as requested), route (the document's path it is for, e.g.
// /v1/jobs/{id}), status, content_type, body} with `body` the text of the answer. With --some,
// the answers need not cover every operation. It prints one line per problem and exits 1 if any:
// - an answer's path is not an instance of its route;
// - the document is not valid OpenAPI 3.0 (the official schema, @seriousme/openapi-schema-validator);
// - an answer's status, or its media type, is not declared for its operation;
// - a JSON answer (or an event stream's JSON data lines) does not match the declared schema (Ajv,
//   with OpenAPI's `nullable`), or carries a member the schema does not declare;
// - an operation of the document got no successful (2xx) answer at all: untested;
// - a shared component's example does not match its own schema.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const [documentPath, answersPath, coverage] = process.argv.slice(2);
const document = JSON.parse(readFileSync(documentPath, "utf8"));
const answers = JSON.parse(readFileSync(answersPath, "utf8"));
const problems = [];

const checked = await new Validator().validate(document);
if (!checked.valid) problems.push(`the document is not valid OpenAPI: ${JSON.stringify(checked.errors)}`);

// Every member an answer carries must be declared: object schemas that say nothing of other
// members are checked here as if they said additionalProperties: false (the document itself
// stays open, so clients may accept members added later).
function closed(schema) {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== "object") return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, closed(v)]));
  if (copy.properties && !("additionalProperties" in copy)) copy.additionalProperties = false;
  return copy;
}
const components = closed(document.components);

// Each schema is checked with the document's components beside it, so "#/components/..."
// references resolve as they do in the document.
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const compiled = new Map();
function validatorFor(schema) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, ajv.compile({ ...closed(schema), components }));
  return compiled.get(key);
}

function mediaType(contentType) {
  return (contentType || "").split(";")[0].trim().toLowerCase();
}

function checkJson(where, schema, text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    problems.push(`${where}: the body is not JSON: ${text.slice(0, 200)}`);
    return;
  }
  const validate = validatorFor(schema);
  if (validate(value)) return;
  const why = validate.errors.map((e) => {
    const extra = e.params?.additionalProperty ? ` ("${e.params.additionalProperty}")` : "";
    return `${e.instancePath || "the body"} ${e.message}${extra}`;
  });
  problems.push(`${where}: ${why.join("; ")} in ${text.slice(0, 300)}`);
}

// Server-Sent Events: every `data:` line of a progress event is a job (the Job component).
function checkEvents(where, text) {
  let event = "message";
  for (const line of text.split("\n")) {
    if (line.startsWith("event: ")) event = line.slice(7);
    if (line.startsWith("data: ") && event === "progress")
      checkJson(`${where} (event ${event})`, { $ref: "#/components/schemas/Job" }, line.slice(6));
  }
}

// Every example in the shared components is an instance of its own schema.
for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) {
  if (schema.example === undefined) continue;
  const validate = validatorFor({ $ref: `#/components/schemas/${name}` });
  if (!validate(schema.example))
    problems.push(`components.schemas.${name}.example: ${ajv.errorsText(validate.errors)}`);
}

const succeeded = new Set();
for (const answer of answers) {
  const where = `${answer.method} ${answer.route} -> ${answer.status}`;
  const literal = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const template = new RegExp("^" + answer.route.split(/\{[^}]+\}/).map(literal).join("[^/]+") + "$");
  if (!template.test((answer.path ?? "").split("?")[0]))
    problems.push(`${where}: the path ${answer.path} is not an instance of the route`);
  const operation = document.paths?.[answer.route]?.[answer.method.toLowerCase()];
  if (!operation) {
    problems.push(`${where}: the document has no such operation`);
    continue;
  }
  const response = operation.responses?.[String(answer.status)];
  if (!response) {
    problems.push(`${where}: status not declared (declared: ${Object.keys(operation.responses)})`);
    continue;
  }
  if (answer.status >= 200 && answer.status < 300) succeeded.add(`${answer.method} ${answer.route}`);
  const type = mediaType(answer.content_type);
  if (!response.content) {
    if (answer.body) problems.push(`${where}: a body where the document declares none`);
    continue;
  }
  const media = response.content[type];
  if (!media) {
    problems.push(`${where}: content type ${type || "(none)"} not declared (${Object.keys(response.content)})`);
    continue;
  }
  if (type === "application/json") checkJson(where, media.schema, answer.body);
  if (type === "text/event-stream") checkEvents(where, answer.body);
}

if (coverage !== "--some")
  for (const [path, operations] of Object.entries(document.paths))
  for (const method of Object.keys(operations))
    if (!succeeded.has(`${method.toUpperCase()} ${path}`))
      problems.push(`${method.toUpperCase()} ${path}: no successful answer was checked`);

for (const problem of problems) console.log(problem);
console.log(`${answers.length} answers checked against ${Object.keys(document.paths).length} paths: ` +
            `${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
