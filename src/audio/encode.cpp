// audio/encode.cpp: libavformat/libavcodec writers for WAV, FLAC and MP3 (LAME).
#include "audio/encode.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <vector>

#include "audio/ffmpeg_util.h"

extern "C" {
#include <libavutil/channel_layout.h>
}

namespace msaas::audio {
namespace fs = std::filesystem;

std::string extension(Format format) {
  switch (format) {
    case Format::wav:
      return "wav";
    case Format::flac:
      return "flac";
    case Format::mp3:
      return "mp3";
  }
  return "wav";
}

namespace {

inline int32_t to_int16(float v) {
  return int16_sample(v);
}
inline int32_t to_int24(float v) {
  return static_cast<int32_t>(std::clamp(v, -1.0f, 1.0f) * 8388607.0f) * 256;
}

std::string temporary_name(const std::string& path) {
  static std::atomic<int> counter{0};
  fs::path p(path);
  return (p.parent_path() / ("." + p.filename().string() + ".part-" + std::to_string(getpid()) +
                             "-" + std::to_string(counter++)))
      .string();
}

struct Plan {
  const char* muxer;
  const AVCodec* codec;
  AVSampleFormat sample_fmt;
  int raw_bits;  // bits_per_raw_sample, 0 when not needed
};

Plan plan_for(const EncodeOptions& o) {
  auto need = [](const AVCodec* c, const char* what) {
    if (!c) throw AudioError(std::string("this FFmpeg build has no ") + what + " encoder");
    return c;
  };
  switch (o.format) {
    case Format::wav:
      if (o.depth == SampleDepth::int24)
        return {"wav", need(avcodec_find_encoder(AV_CODEC_ID_PCM_S24LE), "pcm_s24le"),
                AV_SAMPLE_FMT_S32, 24};
      if (o.depth == SampleDepth::float32)
        return {"wav", need(avcodec_find_encoder(AV_CODEC_ID_PCM_F32LE), "pcm_f32le"),
                AV_SAMPLE_FMT_FLT, 0};
      return {"wav", need(avcodec_find_encoder(AV_CODEC_ID_PCM_S16LE), "pcm_s16le"),
              AV_SAMPLE_FMT_S16, 0};
    case Format::flac:
      if (o.depth == SampleDepth::float32) throw AudioError("FLAC cannot hold float32 samples");
      return {"flac", need(avcodec_find_encoder(AV_CODEC_ID_FLAC), "flac"),
              o.depth == SampleDepth::int24 ? AV_SAMPLE_FMT_S32 : AV_SAMPLE_FMT_S16,
              o.depth == SampleDepth::int24 ? 24 : 0};
    case Format::mp3:
      return {"mp3", need(avcodec_find_encoder_by_name("libmp3lame"), "libmp3lame (MP3)"),
              AV_SAMPLE_FMT_S16P, 0};
  }
  throw AudioError("unknown output format");
}

}  // namespace

struct Encoder::State {
  std::string path, temp_path;
  AVFormatContext* oc = nullptr;
  ff::CodecContextPtr enc;
  AVStream* stream = nullptr;
  ff::FramePtr frame{av_frame_alloc()};
  ff::PacketPtr packet{av_packet_alloc()};
  int channels = 0;
  int frame_size = 4096;
  int64_t pts = 0;
  std::vector<std::vector<float>> pending;  // per channel, not yet a full codec frame
  bool finished = false;

  ~State() {
    if (oc) {
      if (oc->pb) avio_closep(&oc->pb);
      avformat_free_context(oc);
    }
    if (!finished && !temp_path.empty()) {
      std::error_code ec;
      fs::remove(temp_path, ec);
    }
  }

  void check(int rc, const char* what) {
    if (rc < 0) throw AudioError(std::string(what) + " " + path + ": " + ff::error_text(rc));
  }

  void write_packets() {
    for (;;) {
      int rc = avcodec_receive_packet(enc.get(), packet.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      check(rc, "cannot encode");
      av_packet_rescale_ts(packet.get(), enc->time_base, stream->time_base);
      packet->stream_index = stream->index;
      check(av_interleaved_write_frame(oc, packet.get()), "cannot write");
    }
  }

  // Encodes `count` samples per channel, channel c read from src[c].
  void encode(const std::vector<const float*>& src, int count) {
    frame->nb_samples = count;
    frame->format = enc->sample_fmt;
    av_channel_layout_copy(&frame->ch_layout, &enc->ch_layout);
    frame->sample_rate = enc->sample_rate;
    check(av_frame_get_buffer(frame.get(), 0), "cannot allocate a frame for");
    bool planar = av_sample_fmt_is_planar(enc->sample_fmt);
    for (int c = 0; c < channels; ++c) {
      int plane = planar ? c : 0;
      int step = planar ? 1 : channels;
      int first = planar ? 0 : c;
      uint8_t* dst = frame->extended_data[plane];
      for (int i = 0; i < count; ++i) {
        int index = first + i * step;
        switch (enc->sample_fmt) {
          case AV_SAMPLE_FMT_S16:
          case AV_SAMPLE_FMT_S16P:
            reinterpret_cast<int16_t*>(dst)[index] = static_cast<int16_t>(to_int16(src[c][i]));
            break;
          case AV_SAMPLE_FMT_S32:
            reinterpret_cast<int32_t*>(dst)[index] = to_int24(src[c][i]);
            break;
          default:
            reinterpret_cast<float*>(dst)[index] = src[c][i];
        }
      }
    }
    frame->pts = pts;
    pts += count;
    check(avcodec_send_frame(enc.get(), frame.get()), "cannot encode");
    av_frame_unref(frame.get());
    write_packets();
  }

  void encode_pending() {
    std::vector<const float*> src(channels);
    for (int c = 0; c < channels; ++c) src[c] = pending[c].data();
    encode(src, static_cast<int>(pending[0].size()));
    for (auto& p : pending) p.clear();
  }
};

Encoder::Encoder(const std::string& path, int sample_rate, int channels,
                 const EncodeOptions& options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.path = path;
  s.channels = channels;
  s.pending.resize(channels);
  Plan plan = plan_for(options);
  s.temp_path = temporary_name(path);
  s.check(avformat_alloc_output_context2(&s.oc, nullptr, plan.muxer, s.temp_path.c_str()),
          "cannot create");
  s.enc.reset(avcodec_alloc_context3(plan.codec));
  s.enc->sample_rate = sample_rate;
  s.enc->sample_fmt = plan.sample_fmt;
  av_channel_layout_default(&s.enc->ch_layout, channels);
  s.enc->time_base = AVRational{1, sample_rate};
  if (plan.raw_bits) s.enc->bits_per_raw_sample = plan.raw_bits;
  if (options.format == Format::mp3) {
    s.enc->bit_rate = int64_t(options.mp3_bitrate_kbps) * 1000;
    s.enc->compression_level = options.mp3_quality;
  }
  if (s.oc->oformat->flags & AVFMT_GLOBALHEADER) s.enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  s.check(avcodec_open2(s.enc.get(), plan.codec, nullptr), "cannot open the encoder for");
  if (s.enc->frame_size > 0) s.frame_size = s.enc->frame_size;
  s.stream = avformat_new_stream(s.oc, nullptr);
  s.check(avcodec_parameters_from_context(s.stream->codecpar, s.enc.get()), "cannot set up");
  s.stream->time_base = s.enc->time_base;
  s.check(avio_open(&s.oc->pb, s.temp_path.c_str(), AVIO_FLAG_WRITE), "cannot write");
  s.check(avformat_write_header(s.oc, nullptr), "cannot write");
}

Encoder::~Encoder() = default;

void Encoder::write(const float* planar, int64_t frames, int64_t stride) {
  State& s = *state_;
  std::vector<const float*> src(s.channels);
  auto from_input = [&](int64_t at) {
    for (int c = 0; c < s.channels; ++c) src[c] = planar + c * stride + at;
  };
  int64_t done = 0;
  if (!s.pending[0].empty()) {  // complete the frame left over from the last call
    int64_t take = std::min<int64_t>(s.frame_size - s.pending[0].size(), frames);
    for (int c = 0; c < s.channels; ++c)
      s.pending[c].insert(s.pending[c].end(), planar + c * stride, planar + c * stride + take);
    done = take;
    if (static_cast<int64_t>(s.pending[0].size()) < s.frame_size) return;
    s.encode_pending();
  }
  for (; frames - done >= s.frame_size; done += s.frame_size) {
    from_input(done);
    s.encode(src, s.frame_size);
  }
  for (int c = 0; c < s.channels; ++c)
    s.pending[c].assign(planar + c * stride + done, planar + c * stride + frames);
}

void Encoder::finish() {
  State& s = *state_;
  if (!s.pending[0].empty()) s.encode_pending();
  s.check(avcodec_send_frame(s.enc.get(), nullptr), "cannot finish");
  s.write_packets();
  s.check(av_write_trailer(s.oc), "cannot finish");
  s.check(avio_closep(&s.oc->pb), "cannot close");
  std::error_code ec;
  fs::rename(s.temp_path, s.path, ec);
  if (ec) throw AudioError("cannot write " + s.path + ": " + ec.message());
  s.finished = true;
}

void write_file(const std::string& path, const Buffer& buffer, const EncodeOptions& options) {
  Encoder encoder(path, buffer.sample_rate, buffer.channels, options);
  encoder.write(buffer.samples.data(), buffer.frames, buffer.frames);
  encoder.finish();
}

}  // namespace msaas::audio
