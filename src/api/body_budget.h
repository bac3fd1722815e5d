// api/body_budget.h: what a request's body may be, decided from its head before a byte of it is
// read: framing cpp-httplib would misread or inflate (several or signed Content-Lengths, a
// Transfer-Encoding other than chunked, compression) is refused; uploads get the upload limit
// (plus framing) and their own deadline, every other route a small body.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>

#include "service/config.h"

namespace msaas::api {

constexpr long long kSmallBody = 64 * 1024;

bool is_upload(const httplib::Request& req);

// The most bytes an upload to `path` may take on the wire: the song's limit, plus base64's
// third for the original API, plus room for line breaks and multipart and chunk framing. The
// routes count the song itself exactly; this only stops a body that can no longer be a song.
uint64_t upload_wire_budget(const std::string& path, long long max_upload_bytes);

// True when `res` holds a refusal decided from the head alone; the connection is then closed
// with the body unread.
bool refuse_body(const httplib::Request& req, httplib::Response& res, long long max_upload_bytes);

// The connection's budget and deadline for the rest of the request (GuardedServer::body_limits).
void limit_body(const httplib::Request& req, const service::ServiceConfig& config);

}  // namespace msaas::api
