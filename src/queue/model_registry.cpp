// queue/model_registry.cpp: see model_registry.h.
#include "queue/model_registry.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "queue/keys.h"

namespace msaas::queue {

using nlohmann::json;

void publish_models(RedisPool& pool, const std::string& worker,
                    const std::vector<std::string>& names, int ttl_s) {
  pool.command({"SET", keys::models(worker), json{{"worker", worker}, {"models", names}}.dump(),
                "EX", std::to_string(ttl_s)});
}

void withdraw_models(RedisPool& pool, const std::string& worker) {
  pool.command({"DEL", keys::models(worker)});
}

std::vector<std::string> published_models(RedisPool& pool) {
  auto connection = pool.acquire();
  std::vector<std::string> names;
  std::string cursor = "0";
  do {
    auto page =
        connection->command({"SCAN", cursor, "MATCH", keys::kModelsPattern, "COUNT", "100"});
    cursor = page.elements[0].str;
    for (const auto& key : page.elements[1].elements) {
      auto published = json::parse(connection->command({"GET", key.str}).str, nullptr, false);
      if (!published.is_object()) continue;
      for (const auto& m : published.value("models", json::array()))
        if (m.is_string() && std::find(names.begin(), names.end(), m) == names.end())
          names.push_back(m.get<std::string>());
    }
  } while (cursor != "0");
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace msaas::queue
