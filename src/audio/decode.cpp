// audio/decode.cpp: FFmpeg decoding, then julius' resampling (as the official Demucs), into a
// planar float Buffer.
#include "audio/decode.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

#include "audio/ffmpeg_util.h"
#include "audio/resample.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

namespace msaas::audio {
namespace {

struct InputFree {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
using InputPtr = std::unique_ptr<AVFormatContext, InputFree>;

std::string too_long(const std::string& lasts, double max_seconds) {
  return "the song lasts " + lasts + " s; this server separates songs up to " +
         std::to_string(static_cast<long>(max_seconds)) + " s";
}

// Below this, a stream is not music: a few kilobytes of WAV "at 1 Hz" would resample into
// hours of audio, gigabytes at once (found by audio_fuzz). Telephone audio is 8000 Hz.
constexpr int kMinSampleRate = 4000;

// Hands float planar output at the model's rate to a BlockSink: FFmpeg's converter brings each
// frame to float planar (and the channel count), then julius' resampler to the model's rate. A
// mono source feeds every requested channel.
class PlanarSink {
 public:
  // With `max_seconds` > 0 (at `sample_rate`), passing it throws TooLong: checked as the
  // output goes, so no frame, however it resamples, is decoded far past the limit.
  PlanarSink(int decode_channels, int channels, const BlockSink& sink, int sample_rate,
             double max_seconds)
      : decode_channels_(decode_channels),
        channels_(channels),
        sample_rate_(sample_rate),
        data_(decode_channels),
        sink_(sink),
        limit_frames_(static_cast<int64_t>(max_seconds * sample_rate)),
        max_seconds_(max_seconds),
        emit_([this](const float* const* planes, int64_t n) { emit(planes, n); }) {}

  // The rate FFmpeg's converter should hand over for a source at `source_rate`: the source's
  // own when julius' resampler takes it from there, else the model's (FFmpeg's soxr resamples
  // rate pairs whose julius kernels would not fit in memory).
  int converter_rate(int source_rate) const {
    return SincResampler::practical(source_rate, sample_rate_) ? source_rate : sample_rate_;
  }

  // The source's rate from here on: a change ends the resampled stretch before it.
  void set_source_rate(int source_rate) {
    int rate = converter_rate(source_rate);
    if (resampler_ && rate == resampler_rate_) return;
    finish();
    if (rate != sample_rate_)
      resampler_ = std::make_unique<SincResampler>(rate, sample_rate_, decode_channels_);
    resampler_rate_ = rate;
  }

  // Pulls everything `swr` has for `in` (nullptr flushes) into the sink.
  void convert(SwrContext* swr, const AVFrame* in) {
    int in_count = in ? in->nb_samples : 0;
    const uint8_t** in_data = in ? const_cast<const uint8_t**>(in->extended_data) : nullptr;
    for (;;) {
      int room = swr_get_out_samples(swr, in_count);
      if (room <= 0) room = 4096;
      std::vector<float*> outs(decode_channels_);
      for (int c = 0; c < decode_channels_; ++c) {
        data_[c].resize(room);
        outs[c] = data_[c].data();
      }
      int got = swr_convert(swr, reinterpret_cast<uint8_t**>(outs.data()), room, in_data, in_count);
      if (got < 0) throw AudioError("resampling failed: " + ff::error_text(got));
      if (got > 0) {
        if (resampler_)
          resampler_->push(outs.data(), got, emit_);
        else
          emit(outs.data(), got);
      }
      if (in || got == 0) return;  // feeding: swr buffers the rest; flushing: until drained
      in_count = 0;
    }
  }

  // The end of the stream (or of a stretch at one rate): the resampler's last frames.
  void finish() {
    if (resampler_) resampler_->finish(emit_);
    resampler_.reset();
  }

  int64_t frames() const { return frames_; }

 private:
  void emit(const float* const* decoded, int64_t n) {
    std::vector<const float*> planes(channels_);
    for (int c = 0; c < channels_; ++c) planes[c] = decoded[std::min(c, decode_channels_ - 1)];
    sink_(planes.data(), n);
    frames_ += n;
    if (limit_frames_ > 0 && frames_ > limit_frames_)
      throw TooLong(
          too_long("more than " + std::to_string(static_cast<long>(max_seconds_)), max_seconds_));
  }

  int decode_channels_, channels_, sample_rate_;
  int64_t frames_ = 0;
  std::vector<std::vector<float>> data_;
  const BlockSink& sink_;
  int64_t limit_frames_;
  double max_seconds_;
  std::unique_ptr<SincResampler> resampler_;
  int resampler_rate_ = 0;
  SincResampler::Emit emit_;
};

// What a resampler was built for: frames of another shape need another resampler.
struct InputShape {
  int format = -1, sample_rate = 0, channels = 0;
  bool operator!=(const InputShape& o) const {
    return format != o.format || sample_rate != o.sample_rate || channels != o.channels;
  }
};

AVStream* first_audio_stream(AVFormatContext* fmt) {
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) return fmt->streams[i];
  return nullptr;
}

ff::SwrPtr make_resampler(const AVFrame* frame, int out_rate, int out_channels) {
  AVChannelLayout in_layout{};  // zeroed: av_channel_layout_copy frees what it finds in it
  if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels == 0)
    av_channel_layout_default(&in_layout, frame->ch_layout.nb_channels);
  else
    av_channel_layout_copy(&in_layout, &frame->ch_layout);
  AVChannelLayout out_layout{};
  av_channel_layout_default(&out_layout, out_channels);
  SwrContext* raw = nullptr;
  int rc = swr_alloc_set_opts2(&raw, &out_layout, AV_SAMPLE_FMT_FLTP, out_rate, &in_layout,
                               static_cast<AVSampleFormat>(frame->format), frame->sample_rate, 0,
                               nullptr);
  av_channel_layout_uninit(&in_layout);
  av_channel_layout_uninit(&out_layout);
  ff::SwrPtr swr(raw);
  if (rc < 0) throw AudioError("cannot set up resampling: " + ff::error_text(rc));
  // Only for rate pairs julius' kernels cannot serve: soxr at very high precision.
  av_opt_set(swr.get(), "resampler", "soxr", 0);
  av_opt_set_int(swr.get(), "precision", 28, 0);
  rc = swr_init(swr.get());
  if (rc < 0) throw AudioError("cannot set up resampling: " + ff::error_text(rc));
  return swr;
}

}  // namespace

namespace {

// The length the container announces, in seconds (0: none).
double announced_seconds(const AVFormatContext* fmt, const AVStream* stream) {
  if (stream->duration > 0) return stream->duration * av_q2d(stream->time_base);
  return fmt->duration > 0 ? fmt->duration / double(AV_TIME_BASE) : 0.0;
}

}  // namespace

int64_t decode_stream(const std::string& path, int sample_rate, int channels,
                      const BlockSink& block_sink, double max_seconds) {
  // FFmpeg's own log lines would interleave with ours; its errors reach the user as AudioError.
  static const bool quiet = (av_log_set_level(AV_LOG_QUIET), true);
  (void)quiet;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw AudioError("no such file: " + path);
  if (std::filesystem::is_directory(path, ec)) throw AudioError(path + " is a folder, not a file");
  if (std::filesystem::file_size(path, ec) == 0) throw AudioError(path + " is empty");

  AVFormatContext* raw_fmt = nullptr;
  int rc = avformat_open_input(&raw_fmt, path.c_str(), nullptr, nullptr);
  if (rc < 0) throw AudioError(path + " is not a readable audio file (" + ff::error_text(rc) + ")");
  InputPtr fmt(raw_fmt);
  avformat_find_stream_info(fmt.get(), nullptr);
  AVStream* stream = first_audio_stream(fmt.get());
  if (!stream) throw AudioError(path + " has no audio stream");
  // A header that knows the length (not a guess from the bitrate) is believed before decoding.
  bool header_exact = fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE;
  double announced = announced_seconds(fmt.get(), stream);
  if (max_seconds > 0 && header_exact && announced > max_seconds + 1)
    throw TooLong(too_long(std::to_string(static_cast<long>(announced)), max_seconds));

  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!codec) throw AudioError(path + ": no decoder for its audio codec");
  ff::CodecContextPtr dec(avcodec_alloc_context3(codec));
  avcodec_parameters_to_context(dec.get(), stream->codecpar);
  dec->thread_count = 1;
  if ((rc = avcodec_open2(dec.get(), codec, nullptr)) < 0)
    throw AudioError(path + ": cannot open its decoder (" + ff::error_text(rc) + ")");

  // FFmpeg downmixes more than two channels; mono stays mono and is duplicated below.
  int source_channels = dec->ch_layout.nb_channels;
  int decode_channels = source_channels == 1 ? 1 : channels;
  PlanarSink sink(decode_channels, channels, block_sink, sample_rate, max_seconds);
  ff::SwrPtr swr;
  InputShape swr_shape;
  ff::PacketPtr packet(av_packet_alloc());
  ff::FramePtr frame(av_frame_alloc());
  int decode_errors = 0, packets = 0;

  auto drain = [&]() {
    for (;;) {
      int r = avcodec_receive_frame(dec.get(), frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) {
        ++decode_errors;
        return;
      }
      const AVFrame* f = frame.get();
      if (f->nb_samples <= 0 || f->sample_rate <= 0 || f->ch_layout.nb_channels <= 0 ||
          !f->extended_data) {
        ++decode_errors;
        av_frame_unref(frame.get());
        continue;
      }
      if (f->sample_rate < kMinSampleRate)
        throw AudioError(path + " says its audio runs at " + std::to_string(f->sample_rate) +
                         " Hz; audio below " + std::to_string(kMinSampleRate) +
                         " Hz is not something this service separates");
      // A stream may change its rate, layout or sample format midway (chained Ogg, damaged
      // files): finish the old resampler and build one for the new shape.
      InputShape shape{f->format, f->sample_rate, f->ch_layout.nb_channels};
      if (!swr || shape != swr_shape) {
        if (swr) sink.convert(swr.get(), nullptr);
        sink.set_source_rate(f->sample_rate);
        swr = make_resampler(f, sink.converter_rate(f->sample_rate), decode_channels);
        swr_shape = shape;
      }
      sink.convert(swr.get(), f);
      av_frame_unref(frame.get());
    }
  };

  while ((rc = av_read_frame(fmt.get(), packet.get())) >= 0) {
    if (packet->stream_index == stream->index) {
      ++packets;
      if (avcodec_send_packet(dec.get(), packet.get()) < 0) ++decode_errors;
      drain();
    }
    av_packet_unref(packet.get());
  }
  bool read_failed = rc != AVERROR_EOF;
  avcodec_send_packet(dec.get(), nullptr);
  drain();
  if (swr) sink.convert(swr.get(), nullptr);
  sink.finish();

  if (sink.frames() == 0)
    throw AudioError(path + " holds no decodable audio (not an audio file, or damaged)");
  // A file cut short: the reader stopped on an error, or the container announced a duration
  // (MP3's Xing/Info header, WAV/FLAC headers) that the decoded audio falls well short of.
  double decoded = static_cast<double>(sink.frames()) / sample_rate;
  if (read_failed || (header_exact && announced > 0 && decoded < announced * 0.98 - 0.05) ||
      (decode_errors > 0 && decode_errors * 10 > packets))
    throw AudioError(path + " is truncated or damaged (decoded " + std::to_string(decoded) +
                     " s of " + std::to_string(announced) + " s)");

  return sink.frames();
}

Buffer decode_file(const std::string& path, int sample_rate, int channels) {
  std::vector<std::vector<float>> planes(channels);
  int64_t frames =
      decode_stream(path, sample_rate, channels, [&](const float* const* block, int64_t n) {
        for (int c = 0; c < channels; ++c)
          planes[c].insert(planes[c].end(), block[c], block[c] + n);
      });
  Buffer out(sample_rate, channels, frames);
  for (int c = 0; c < channels; ++c) {
    std::copy(planes[c].begin(), planes[c].end(), out.channel(c));
    std::vector<float>().swap(planes[c]);
  }
  return out;
}

}  // namespace msaas::audio
