// api/apiv1_body.h: the original API's JSON body ({"mp3": "<base64>", "model": ..., "callback":
// ...}) read as it arrives. The "mp3" string is decoded straight into a sink (the upload spool)
// and never held; every other member is kept as its client wrote it (at most 64 KiB of them),
// so a song costs the server a spool file, not three copies in memory.
#pragma once

#include <string>

#include "api/base64.h"

namespace msaas::api {

class Apiv1BodyReader {
 public:
  static constexpr size_t kOtherMembersLimit = 64 * 1024;

  // `song` receives the decoded bytes of "mp3"; it returns false to stop (the song is too large).
  explicit Apiv1BodyReader(Base64Decoder::Sink song);
  // False when reading should stop: the body is not what the API takes (error()), or the sink
  // stopped (song_too_large()).
  bool feed(const char* data, size_t size);
  // After the last byte: false when the body ended before its JSON did.
  bool finish();

  const std::string& error() const { return error_; }
  int error_status() const { return error_status_; }
  bool song_too_large() const { return decoder_.sink_stopped(); }
  bool saw_song() const { return saw_song_; }
  size_t song_bytes() const { return decoder_.decoded(); }
  // The object without "mp3", its members as written: {"model": "x", "callback": {...}}.
  const std::string& other_members() const { return others_; }

 private:
  enum class State {
    before_object,
    before_key,
    key,
    after_key,
    before_value,
    song,
    song_escape,
    song_unicode,
    value,
    after_value,
    end
  };
  bool step(char c);
  bool fail(const std::string& why, int status = 400);
  bool start_value(char c);
  bool value_char(char c);
  bool song_char(char c);
  bool end_value();

  Base64Decoder decoder_;
  State state_ = State::before_object;
  std::string key_, value_, others_, unicode_;
  bool key_escape_ = false, in_string_ = false, string_escape_ = false, saw_song_ = false;
  bool after_comma_ = false;
  int depth_ = 0;
  std::string error_;
  int error_status_ = 0;
};

}  // namespace msaas::api
