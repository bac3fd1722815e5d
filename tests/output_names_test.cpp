// Output names follow the official --filename pattern.
#include "cli/output_names.h"

#include <gtest/gtest.h>

namespace msaas::cli {
namespace {

TEST(OutputNames, DefaultPatternPutsStemsInATrackFolder) {
  EXPECT_EQ(stem_filename("{track}/{stem}.{ext}", "My Song.mp3", "vocals", "wav"),
            "My Song/vocals.wav");
}

TEST(OutputNames, LastDotSplitsTheTrackName) {
  EXPECT_EQ(stem_filename("{track}_{trackext}-{stem}.{ext}", "a.b.flac", "bass", "mp3"),
            "a.b_flac-bass.mp3");
}

TEST(OutputNames, UnknownPlaceholderIsAnError) {
  EXPECT_THROW(stem_filename("{song}/{stem}.{ext}", "x.mp3", "bass", "wav"), std::invalid_argument);
  EXPECT_THROW(stem_filename("{track", "x.mp3", "bass", "wav"), std::invalid_argument);
}

}  // namespace
}  // namespace msaas::cli
