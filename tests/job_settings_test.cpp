// tests/job_settings_test.cpp: a job's settings (one parser for every program), its record read
// leniently from Redis's fields, its id, and how output stems are made from a model's sources.
#include "queue/job_settings.h"

#include <gtest/gtest.h>

#include "audio/stem_recipe.h"
#include "queue/job_record.h"
#include "queue/jobs.h"
#include "support.h"

namespace msaas::test {
namespace {

using queue::JobSettings;
using queue::SettingsError;
using queue::Stems;

TEST(JobSettings, ParseAndTextRoundTrip) {
  for (std::string text : {"4", "6", "two:drums", "two:vocals", "two:piano"})
    EXPECT_EQ(Stems::parse(text).text(), text);
  for (std::string format : queue::format_names())
    EXPECT_EQ(queue::format_name(queue::parse_format(format)), format);
  auto settings = JobSettings::parse("htdemucs_6s", "two:guitar", "flac");
  EXPECT_EQ(settings.stems.set, Stems::Set::two);
  EXPECT_EQ(settings.stems.stem, "guitar");
  EXPECT_EQ(queue::content_type(settings.format), "audio/flac");
}

TEST(JobSettings, BadTextsAreRefusedInWords) {
  auto message = [](auto parse) {
    try {
      parse();
    } catch (const SettingsError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(message([] { Stems::parse("5"); }),
            "stems must be 4, 6 or two:<stem> with a stem of drums, bass, other, vocals, guitar, "
            "piano (e.g. two:vocals), not \"5\"");
  EXPECT_EQ(message([] { Stems::parse("two:kazoo"); }).rfind("stems must be", 0), 0u);
  EXPECT_EQ(message([] { queue::parse_format("ogg"); }),
            "format must be mp3, wav or flac, not \"ogg\"");
  EXPECT_EQ(message([] { JobSettings::parse("", "4", "mp3"); }), "bad model name \"\"");
  EXPECT_EQ(message([] { JobSettings::parse("../x", "4", "mp3"); }), "bad model name \"../x\"");
  EXPECT_EQ(message([] { JobSettings::parse(std::string(65, 'a'), "4", "mp3"); }).rfind("bad", 0),
            0u);
  // What is stored is read back leniently: each bad text keeps its default.
  auto stored = JobSettings::stored("m", "5", "ogg");
  EXPECT_EQ(stored.stems.text(), "4");
  EXPECT_EQ(queue::format_name(stored.format), "mp3");
}

TEST(JobSettings, OutputsForEachStemSet) {
  std::vector<std::string> four = {"drums", "bass", "other", "vocals"};
  std::vector<std::string> six = {"drums", "bass", "other", "vocals", "guitar", "piano"};
  EXPECT_EQ(Stems::parse("4").outputs(four), four);
  EXPECT_EQ(Stems::parse("4").outputs(six), four);
  EXPECT_EQ(Stems::parse("6").outputs(six), six);
  EXPECT_EQ(Stems::parse("two:vocals").outputs(four),
            (std::vector<std::string>{"vocals", "no_vocals"}));
  EXPECT_THROW(Stems::parse("6").outputs(four), SettingsError);
  EXPECT_THROW(Stems::parse("two:guitar").outputs(four), SettingsError);
}

// The id is the first 32 hex characters of a SHA-224 of hash, model, stems and format (and the
// owner with keys on): stored ids and the original API's song index depend on it not changing.
TEST(JobSettings, JobIdIsTheDigestOfTheUploadAndSettings) {
  auto sha224 = [](const std::string& text) { return sha224_hex(text).substr(0, 32); };
  auto settings = JobSettings::parse("htdemucs", "two:vocals", "wav");
  EXPECT_EQ(queue::job_id("abc", settings), sha224("abc\nhtdemucs\ntwo:vocals\nwav"));
  EXPECT_EQ(queue::job_id("abc", settings, "alice"),
            sha224("abc\nhtdemucs\ntwo:vocals\nwav\nalice"));
}

TEST(JobRecord, ReadsFieldsLenientlyAndFindsOutputs) {
  auto record = queue::job_record_from_fields(
      {"id", "i", "status", "done", "progress", "not a number", "attempts", "2", "seconds", "3.5",
       "stems", "two:bass", "format", "ogg", "outputs",
       R"([{"name":"bass","key":"i/1/bass.mp3","content_type":"audio/mpeg","size":10,"crc32":7},)"
       R"({"name":"no_bass","key":"i/1/no_bass.mp3","size":12}, 5])"});
  EXPECT_EQ(record.id, "i");
  EXPECT_TRUE(record.done());
  EXPECT_EQ(record.progress, 0);  // did not parse: the default
  EXPECT_EQ(record.attempts, 2);
  EXPECT_EQ(record.audio_seconds, 3.5);
  EXPECT_FALSE(record.real_time_factor);
  EXPECT_EQ(record.settings.stems.text(), "two:bass");
  EXPECT_EQ(queue::format_name(record.settings.format), "mp3");
  ASSERT_EQ(record.outputs.size(), 2u);
  EXPECT_EQ(record.outputs[0].crc32, 7u);
  EXPECT_FALSE(record.outputs[1].crc32);
  EXPECT_EQ(record.find_output("no_bass.mp3"), &record.outputs[1]);
  EXPECT_EQ(record.find_output("bass"), &record.outputs[0]);
  EXPECT_EQ(record.find_output("vocals"), nullptr);
  auto back = queue::job_record_from_fields({"outputs", queue::outputs_text(record.outputs)});
  EXPECT_EQ(back.outputs.size(), 2u);
  EXPECT_EQ(back.outputs[1].size, 12);
}

// Each output stem from the sources, made the same way by the CLI and the worker.
TEST(StemRecipe, MakesEachOutputFromTheSources) {
  std::vector<std::string> six = {"drums", "bass", "other", "vocals", "guitar", "piano"};
  // Two samples per source: source s holds (s + 1) and 10 (s + 1).
  std::vector<float> sources;
  for (size_t s = 0; s < six.size(); ++s) sources.insert(sources.end(), {s + 1.f, 10 * (s + 1.f)});
  std::vector<float> mix = {100, 1000};
  auto made = [&](const std::vector<std::string>& names, audio::OtherStem other) {
    std::vector<std::vector<float>> out(names.size());
    audio::mix_stems(audio::stem_recipes(names, six, other), sources.data(), mix.data(), 2,
                     [&](size_t i, const float* stem) { out[i].assign(stem, stem + 2); });
    return out;
  };
  auto four = made({"drums", "bass", "other", "vocals"}, audio::OtherStem::with_sources_unasked);
  EXPECT_EQ(four[2], (std::vector<float>{3 + 5 + 6, 30 + 50 + 60}));  // other + guitar + piano
  EXPECT_EQ(four[3], (std::vector<float>{4, 40}));
  auto all = made(six, audio::OtherStem::as_separated);
  EXPECT_EQ(all[2], (std::vector<float>{3, 30}));
  auto two = made({"other", "no_other"}, audio::OtherStem::as_separated);
  EXPECT_EQ(two[0], (std::vector<float>{3, 30}));
  EXPECT_EQ(two[1], (std::vector<float>{1 + 2 + 4 + 5 + 6, 10 + 20 + 40 + 50 + 60}));
  auto minus = made({"minus_vocals", "vocals"}, audio::OtherStem::as_separated);
  EXPECT_EQ(minus[0], (std::vector<float>{96, 960}));
  EXPECT_THROW(audio::stem_recipes({"flute"}, six), std::invalid_argument);
  EXPECT_THROW(audio::stem_recipes({"no_flute"}, six), std::invalid_argument);
}

}  // namespace
}  // namespace msaas::test
