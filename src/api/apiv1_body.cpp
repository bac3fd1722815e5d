// api/apiv1_body.cpp: see apiv1_body.h. A small state machine over the top-level object: member
// names, then either the song (decoded as it comes) or another value, copied as written while
// its strings and brackets are tracked to find where it ends. The copied members are checked as
// JSON when the body ends.
#include "api/apiv1_body.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace msaas::api {

namespace {

constexpr size_t kMemberNameLimit = 1024;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_control(char c) {
  return static_cast<unsigned char>(c) < 0x20;
}

}  // namespace

Apiv1BodyReader::Apiv1BodyReader(Base64Decoder::Sink song)
    : decoder_(std::move(song)), others_("{") {}

bool Apiv1BodyReader::feed(const char* data, size_t size) {
  if (!error_.empty() || song_too_large()) return false;
  for (size_t i = 0; i < size; ++i)
    if (!step(data[i])) return false;
  return true;
}

bool Apiv1BodyReader::finish() {
  if (!error_.empty() || song_too_large()) return false;
  if (state_ != State::end) return fail("the body ends before its JSON object does");
  if (!decoder_.finish()) return song_too_large() ? false : fail("\"mp3\" is not valid base64");
  others_ += "}";
  return true;
}

bool Apiv1BodyReader::fail(const std::string& why, int status) {
  error_ = why;
  error_status_ = status;
  return false;
}

bool Apiv1BodyReader::step(char c) {
  switch (state_) {
    case State::before_object:
      if (is_space(c)) return true;
      if (c != '{') return fail("the body must be a JSON object");
      state_ = State::before_key;
      return true;
    case State::before_key:
      if (is_space(c)) return true;
      if (c == '}' && !after_comma_) {
        state_ = State::end;
        return true;
      }
      if (c != '"') return fail("the body is not valid JSON (a member name was expected)");
      key_ = "\"";
      key_escape_ = after_comma_ = false;
      state_ = State::key;
      return true;
    case State::key:
      if (key_.size() > kMemberNameLimit || is_control(c))
        return fail("the body is not valid JSON (a member name)");
      key_ += c;
      if (key_escape_)
        key_escape_ = false;
      else if (c == '\\')
        key_escape_ = true;
      else if (c == '"')
        state_ = State::after_key;
      return true;
    case State::after_key:
      if (is_space(c)) return true;
      if (c != ':') return fail("the body is not valid JSON (':' was expected)");
      state_ = State::before_value;
      return true;
    case State::before_value:
      return is_space(c) || start_value(c);
    case State::song:
    case State::song_escape:
    case State::song_unicode:
      return song_char(c);
    case State::value:
      return value_char(c);
    case State::after_value:
      if (is_space(c)) return true;
      if (c == ',') {
        after_comma_ = true;
        state_ = State::before_key;
      } else if (c == '}') {
        state_ = State::end;
      } else {
        return fail("the body is not valid JSON (',' or '}' was expected)");
      }
      return true;
    case State::end:
      return is_space(c) || fail("the body has more after its JSON object");
  }
  return false;
}

bool Apiv1BodyReader::start_value(char c) {
  auto name = nlohmann::json::parse(key_, nullptr, false);
  if (!name.is_string()) return fail("the body is not valid JSON (a member name)");
  if (name.get<std::string>() == "mp3") {
    if (saw_song_) return fail("\"mp3\" appears twice");
    if (c != '"') return fail("\"mp3\" must be a string: the song's bytes in base64");
    saw_song_ = true;
    state_ = State::song;
    return true;
  }
  value_.clear();
  depth_ = 0;
  in_string_ = string_escape_ = false;
  state_ = State::value;
  return value_char(c);
}

bool Apiv1BodyReader::song_char(char c) {
  auto decode = [this](char symbol) {
    if (decoder_.feed(symbol)) return true;
    return song_too_large() ? false : fail("\"mp3\" is not valid base64");
  };
  if (state_ == State::song_escape) {
    state_ = c == 'u' ? State::song_unicode : State::song;
    unicode_.clear();
    if (c == 'u' || c == 'n' || c == 'r') return true;  // line breaks are allowed in base64
    return c == '/' ? decode('/') : fail("\"mp3\" is not valid base64");
  }
  if (state_ == State::song_unicode) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return fail("\"mp3\" is not valid JSON");
    unicode_ += c;
    if (unicode_.size() < 4) return true;
    state_ = State::song;
    int code = std::stoi(unicode_, nullptr, 16);
    if (code == '\n' || code == '\r') return true;
    return code < 0x80 ? decode(static_cast<char>(code)) : fail("\"mp3\" is not valid base64");
  }
  if (c == '"') {
    state_ = State::after_value;
    return true;
  }
  if (c == '\\') {
    state_ = State::song_escape;
    return true;
  }
  return is_control(c) ? fail("\"mp3\" is not valid JSON text") : decode(c);
}

bool Apiv1BodyReader::value_char(char c) {
  if (in_string_) {
    if (string_escape_)
      string_escape_ = false;
    else if (c == '\\')
      string_escape_ = true;
    else if (c == '"')
      in_string_ = false;
  } else if (c == '"') {
    in_string_ = true;
  } else if (c == '{' || c == '[') {
    ++depth_;
  } else if ((c == '}' || c == ']') && depth_ > 0) {
    --depth_;
  } else if (depth_ == 0 && (c == ',' || c == '}')) {
    if (!end_value()) return false;
    after_comma_ = c == ',';
    state_ = c == ',' ? State::before_key : State::end;
    return true;
  }
  value_ += c;
  if (others_.size() + key_.size() + value_.size() > kOtherMembersLimit)
    return fail("the members other than \"mp3\" are larger than " +
                    std::to_string(kOtherMembersLimit / 1024) + " KiB",
                413);
  return true;
}

bool Apiv1BodyReader::end_value() {
  while (!value_.empty() && is_space(value_.back())) value_.pop_back();
  if (value_.empty()) return fail("the body is not valid JSON (a value was expected)");
  if (others_.size() > 1) others_ += ",";
  others_ += key_ + ":" + value_;
  return true;
}

}  // namespace msaas::api
