// The S3 peer of the tests and of the container test stack: s3rver (a real S3 REST server, on
// disk) behind a front that checks every request's AWS Signature Version 4 the way MinIO and AWS
// do. s3rver alone checks that a v4 signature is present, not what it signs nor with which
// secret, so a client that signs the wrong headers or with the wrong key would pass it and fail
// against MinIO. Checked here, as MinIO checks them:
//   - the credential's access key, region and service, and a date within 15 minutes of now;
//   - the signature over the headers named in SignedHeaders, their values taken from the request
//     as received (a missing `expect` taken as "100-continue", as MinIO and AWS do);
//   - the canonical URI rebuilt from the decoded path (so a client must encode it as S3 does),
//     the query sorted and encoded;
//   - `host` and `x-amz-date` must be signed; x-amz-content-sha256 must be present, and a
//     payload hash other than UNSIGNED-PAYLOAD must match the body.
// Refusals are S3's XML errors (403 SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied,
// RequestTimeTooSkewed; 400 AuthorizationHeaderMalformed, XAmzContentSHA256Mismatch).
//
// Usage: node verifying-peer.mjs --directory DIR [--address 127.0.0.1] [--port 9000]
// Credentials and region from the environment: S3PEER_ACCESS_KEY, S3PEER_SECRET_KEY,
// S3PEER_REGION (default us-east-1). Prints "listening on ADDRESS:PORT" when ready.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { parseArgs } from "node:util";
import S3rver from "s3rver";

const { values: options } = parseArgs({
  options: {
    directory: { type: "string" },
    address: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "9000" },
  },
});
const accessKey = process.env.S3PEER_ACCESS_KEY;
const secretKey = process.env.S3PEER_SECRET_KEY;
const region = process.env.S3PEER_REGION || "us-east-1";
if (!options.directory || !accessKey || !secretKey) {
  console.error("usage: S3PEER_ACCESS_KEY=.. S3PEER_SECRET_KEY=.. node verifying-peer.mjs --directory DIR");
  process.exit(2);
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const hmac = (key, data) => createHmac("sha256", key).update(data).digest();

// AWS's UriEncode: everything but A-Z a-z 0-9 - . _ ~ as %XX (upper case); '/' kept in paths.
function uriEncode(text, keepSlash) {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/")) out += c;
    else out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

class Refusal extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function parseAuthorization(header) {
  if (!header) throw new Refusal(403, "AccessDenied", "Access Denied.");
  // The access key may itself contain '/': the scope is the last four parts.
  const m =
    /^AWS4-HMAC-SHA256 Credential=(.+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9\-;]+), ?Signature=([0-9a-f]{64})$/.exec(
      header,
    );
  if (!m)
    throw new Refusal(400, "AuthorizationHeaderMalformed", "The authorization header is malformed.");
  const [, key, day, scopeRegion, service, signedHeaders, signature] = m;
  return { key, day, scopeRegion, service, signedHeaders: signedHeaders.split(";"), signature };
}

function canonicalRequest(req, signedHeaders, payloadHash) {
  const [rawPath, rawQuery = ""] = req.url.split(/\?(.*)/s);
  let path;
  try {
    if (!rawPath.startsWith("/")) throw new Error("not a path");
    path = uriEncode(decodeURIComponent(rawPath), true);
  } catch {
    throw new Refusal(400, "InvalidURI", "Couldn't parse the specified URI.");
  }
  const query = [...new URLSearchParams(rawQuery)]
    .map(([name, value]) => [uriEncode(name, false), uriEncode(value, false)])
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const headers = signedHeaders.map((name) => {
    let value = req.headers[name];
    if (value === undefined && name === "expect") value = "100-continue";
    if (value === undefined) value = "";
    return `${name}:${String(value).trim().replace(/\s+/g, " ")}\n`;
  });
  return [req.method, path, query, headers.join(""), signedHeaders.join(";"), payloadHash].join("\n");
}

// Throws a Refusal unless the request is signed with our key; returns the checked facts.
function verify(req) {
  const auth = parseAuthorization(req.headers.authorization);
  if (auth.key !== accessKey)
    throw new Refusal(403, "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.");
  if (auth.scopeRegion !== region || auth.service !== "s3")
    throw new Refusal(400, "AuthorizationHeaderMalformed",
      `the region '${auth.scopeRegion}' is wrong; expecting '${region}'`);
  for (const needed of ["host", "x-amz-date"])
    if (!auth.signedHeaders.includes(needed))
      throw new Refusal(403, "AccessDenied", `There were headers present in the request which were not signed: ${needed}`);
  const date = req.headers["x-amz-date"] ?? "";
  const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (!when || date.slice(0, 8) !== auth.day)
    throw new Refusal(403, "AccessDenied", "X-Amz-Date is missing or does not match the credential's date.");
  const time = Date.UTC(+when[1], +when[2] - 1, +when[3], +when[4], +when[5], +when[6]);
  if (Math.abs(Date.now() - time) > 15 * 60 * 1000)
    throw new Refusal(403, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.");
  const payloadHash = req.headers["x-amz-content-sha256"];
  if (!payloadHash)
    throw new Refusal(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
  // Sorted and without repeats, as MinIO and AWS compute it: a client that signs its own
  // order gets a different signature and is refused.
  const names = [...new Set(auth.signedHeaders)].sort();
  const canonical = canonicalRequest(req, names, payloadHash);
  const scope = `${auth.day}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, sha256(canonical)].join("\n");
  const signingKey = hmac(hmac(hmac(hmac("AWS4" + secretKey, auth.day), region), "s3"), "aws4_request");
  const expected = hmac(signingKey, toSign);
  if (!timingSafeEqual(expected, Buffer.from(auth.signature, "hex"))) {
    const refusal = new Refusal(403, "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
    refusal.canonical = canonical;
    throw refusal;
  }
  return { auth, payloadHash };
}

function refuse(req, res, refusal) {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${refusal.message}</Message></Error>`;
  res.writeHead(refusal.status, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(xml) });
  res.end(req.method === "HEAD" ? undefined : xml);
  console.error(`refused ${req.method} ${req.url}: ${refusal.code}` + (refusal.canonical ? `\n${refusal.canonical}` : ""));
}

async function readBody(req) {
  const parts = [];
  for await (const part of req) parts.push(part);
  return Buffer.concat(parts);
}

// s3rver knows its own test account only, and does not check v4 signatures: the request goes on
// under that account's key id once it has passed here.
function forward(req, res, upstreamPort, body) {
  const headers = { ...req.headers };
  headers.authorization = headers.authorization.replace(/Credential=.+?\/(\d{8}\/)/, "Credential=S3RVER/$1");
  const upstream = http.request(
    { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers },
    (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", (error) => res.destroy(error));
  if (body) upstream.end(body);
  else req.pipe(upstream);
}

// Path-style only (as MSaaS addresses buckets): with virtual hosts on, s3rver would take a host
// name such as "minio" for a bucket.
const backend = new S3rver({
  address: "127.0.0.1",
  port: 0,
  directory: options.directory,
  silent: true,
  vhostBuckets: false,
});
const { port: upstreamPort } = await backend.run();

const front = http.createServer(async (req, res) => {
  try {
    const { payloadHash } = verify(req);
    let body = null;
    if (payloadHash !== "UNSIGNED-PAYLOAD") {
      body = await readBody(req);
      if (sha256(body) !== payloadHash)
        throw new Refusal(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    forward(req, res, upstreamPort, body);
  } catch (error) {
    req.resume();
    // Anything unexpected is this peer's fault: a 500, as S3 would say, and the peer goes on.
    refuse(req, res, error instanceof Refusal ? error : new Refusal(500, "InternalError", String(error)));
  }
});
front.listen(Number(options.port), options.address, () => {
  const { address, port } = front.address();
  console.log(`listening on ${address}:${port}`);
});
for (const signal of ["SIGTERM", "SIGINT"])
  process.on(signal, () => {
    front.close();
    backend.close().then(() => process.exit(0));
  });
