// api/page.cpp: see page.h.
#include "api/page.h"

namespace msaas::api {

const std::string& index_page() {
  static const std::string page = R"html(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>MSaaS: music separation</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>MSaaS: music separation</h1>
<p>Upload a song; it is split into stems (vocals, drums, bass, other) by Demucs v4.
(This is the server's fallback page: the full page was not built; run <code>make build</code>.)</p>
<form id="upload" method="post" action="/v1/jobs" enctype="multipart/form-data">
  <input type="file" name="file" accept="audio/*" required>
  <select name="format"><option>mp3</option><option>wav</option><option>flac</option></select>
  <button type="submit">Separate</button>
</form>
<p>API: <a href="/openapi.json">OpenAPI document</a>, <a href="/v1/queue">queue</a>,
<a href="/v1/models">models</a>.</p>
</body>
</html>
)html";
  return page;
}

}  // namespace msaas::api
