// queue/trash.cpp: see trash.h.
#include "queue/trash.h"

#include <ctime>

#include "queue/keys.h"
#include "queue/scripts.h"

namespace msaas::queue {

namespace {

using keys::kTrash;
const std::string kUpload = "upload:";
const std::string kOutput = "output:";

}  // namespace

std::string trash_member(FileKind kind, const std::string& key) {
  return (kind == FileKind::upload ? kUpload : kOutput) + key;
}

TrashItem trash_item(FileKind kind, const std::string& key) {
  return {trash_member(kind, key), kind, key};
}

std::optional<TrashItem> parse_trash_member(const std::string& member) {
  if (member.rfind(kUpload, 0) == 0)
    return TrashItem{member, FileKind::upload, member.substr(kUpload.size())};
  if (member.rfind(kOutput, 0) == 0)
    return TrashItem{member, FileKind::output, member.substr(kOutput.size())};
  return std::nullopt;
}

void Trash::hold(FileKind kind, const std::string& key, long long due_s) {
  pool_.command({"ZADD", kTrash, std::to_string(due_s), trash_member(kind, key)});
}

void Trash::release(const std::vector<std::string>& members) {
  reschedule(members, time(nullptr));
}

void Trash::reschedule(const std::vector<std::string>& members, long long due_s) {
  if (members.empty()) return;
  std::vector<std::string> command{"ZADD", kTrash, "XX"};
  std::string due = std::to_string(due_s);
  for (const auto& m : members) {
    command.push_back(due);
    command.push_back(m);
  }
  pool_.command(command);
}

std::vector<TrashItem> Trash::take_due(long long now_s, int limit, int retry_s) {
  auto reply = eval(*pool_.acquire(), scripts::take_due, {kTrash},
                    {std::to_string(now_s), std::to_string(limit), std::to_string(retry_s)});
  std::vector<TrashItem> items;
  for (const auto& e : reply.elements) {
    if (auto item = parse_trash_member(e.str))
      items.push_back(*item);
    else
      forget(e.str);  // not one of ours: nothing to delete
  }
  return items;
}

void Trash::forget(const std::string& member) {
  pool_.command({"ZREM", kTrash, member});
}

long long Trash::size() {
  return pool_.command({"ZCARD", kTrash}).integer;
}

}  // namespace msaas::queue
