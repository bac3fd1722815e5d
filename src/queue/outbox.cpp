// queue/outbox.cpp: see outbox.h.
#include "queue/outbox.h"

#include "queue/scripts.h"

namespace msaas::queue {

namespace {

const std::string kOutbox = "outbox";

}  // namespace

std::vector<OutboxEntry> Outbox::take_due(long long now_s, int limit, int retry_s) {
  auto reply = eval(*pool_.acquire(), scripts::take_due, {kOutbox},
                    {std::to_string(now_s), std::to_string(limit), std::to_string(retry_s)});
  std::vector<OutboxEntry> entries;
  for (const auto& e : reply.elements) {
    auto j = nlohmann::ordered_json::parse(e.str, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j.contains("callback")) {
      forget(e.str);  // unreadable: sending it again would not help
      continue;
    }
    entries.push_back({e.str, j["id"].get<std::string>(), j["callback"]});
  }
  return entries;
}

void Outbox::forget(const std::string& member) {
  pool_.command({"ZREM", kOutbox, member});
}

long long Outbox::size() {
  return pool_.command({"ZCARD", kOutbox}).integer;
}

std::string callback_text(const std::string& api, const nlohmann::ordered_json& callback) {
  nlohmann::ordered_json text = {{"api", api}, {"url", callback.value("url", "")}};
  if (callback.contains("data")) text["data"] = callback["data"];
  return text.dump();
}

}  // namespace msaas::queue
