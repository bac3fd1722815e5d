// queue/outbox.cpp: see outbox.h.
#include "queue/outbox.h"

#include "common/digest.h"
#include "queue/keys.h"
#include "queue/raw_json.h"
#include "queue/scripts.h"

namespace msaas::queue {

namespace {

using keys::kOutbox;
const std::string& kTries = keys::kOutboxTries;

}  // namespace

std::vector<OutboxEntry> Outbox::take_due(long long now_s, int limit, int retry_s) {
  auto reply = eval(*pool_.acquire(), scripts::take_due, {kOutbox},
                    {std::to_string(now_s), std::to_string(limit), std::to_string(retry_s)});
  std::vector<OutboxEntry> entries;
  for (const auto& e : reply.elements) {
    auto j = nlohmann::json::parse(e.str, nullptr, false);
    auto callback = raw_member(e.str, "callback");
    if (!j.is_object() || !j.contains("id") || !j.contains("callback") || !callback) {
      forget(e.str);  // unreadable: sending it again would not help
      continue;
    }
    try {
      auto data = raw_member(*callback, "data");
      entries.push_back({e.str, j["id"].get<std::string>(), j.value("generation", 0LL),
                         j["callback"].value("api", "v1"), j["callback"].value("url", ""),
                         data ? std::string(*data) : "", j.value("end", nlohmann::json::object())});
    } catch (const nlohmann::json::exception&) {
      forget(e.str);  // a field of the wrong kind: sending it again would not help
    }
  }
  return entries;
}

void Outbox::forget(const std::string& member) {
  pool_.command({"ZREM", kOutbox, member});
  pool_.command({"HDEL", kTries, member});
}

int Outbox::failed_try(const std::string& member, long long now_s) {
  return static_cast<int>(eval(*pool_.acquire(), scripts::failed_try, {kOutbox, kTries},
                               {member, std::to_string(now_s)})
                              .integer);
}

long long Outbox::size() {
  return pool_.command({"ZCARD", kOutbox}).integer;
}

std::string callback_text(const std::string& api, const std::string& url,
                          const std::string& raw_data) {
  std::string submission = common::random_token();
  std::string text = "{\"api\":" + nlohmann::json(api).dump() +
                     ",\"url\":" + nlohmann::json(url).dump() + ",\"submission\":\"" + submission +
                     "\"";
  if (!raw_data.empty()) text += ",\"data\":" + raw_data;
  return text + "}";
}

}  // namespace msaas::queue
