// tests/launcher_test.cpp: the `msaas` command (src/launcher/) starts msaas-cli from its own folder
// with malloc's huge pages added to GLIBC_TUNABLES (a user's own setting kept), the arguments,
// output and exit status passed through untouched. The launcher runs from a copy next to a small
// script named msaas-cli that reports what it was given; the real chain is what every other
// test of the command line runs.
#include <csignal>
#include <cstdlib>
#include <string>

#include "common/glibc_tunables.h"
#include "support.h"

namespace msaas::test {
namespace {

// A copy of the launcher next to a msaas-cli that prints its tunables and arguments, exits 7.
struct LauncherCopy {
  TempDir dir;
  fs::path launcher = dir / "msaas";
  LauncherCopy() {
    fs::copy_file(msaas_binary(), launcher);
    write_text(dir / "msaas-cli",
               "#!/bin/sh\n"
               "echo \"tunables=${GLIBC_TUNABLES-unset} user=${MSAAS_USER_GLIBC_TUNABLES-unset}\"\n"
               "[ \"$1\" = die ] && kill -TERM $$\n"
               "for arg in \"$@\"; do echo \"arg=$arg\"; done\n"
               "exit 7\n");
    fs::permissions(dir / "msaas-cli", fs::perms::owner_all);
  }
  // Runs the launcher with GLIBC_TUNABLES set to `tunables` (unset when null), and `more`
  // (NAME=value) in its environment.
  CommandResult run_with(const char* tunables, const std::vector<std::string>& args,
                         const std::vector<std::string>& more = {}) {
    std::vector<std::string> argv{"/usr/bin/env"};
    if (tunables)
      argv.push_back(std::string("GLIBC_TUNABLES=") + tunables);
    else
      argv.insert(argv.end(), {"-u", "GLIBC_TUNABLES"});
    argv.insert(argv.end(), more.begin(), more.end());
    argv.push_back(launcher.string());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
};

TEST(Launcher, StartsTheProgramBesideItWithHugePagesAndTheSameArguments) {
  LauncherCopy copy;
  auto res = copy.run_with(nullptr, {"separate", "two words", "--mp3", ""});
  EXPECT_EQ(res.exit_code, 7) << res.err;
  EXPECT_EQ(
      res.out,
      "tunables=glibc.malloc.hugetlb=1 user=\narg=separate\narg=two words\narg=--mp3\narg=\n");
  EXPECT_EQ(res.err, "");
}

TEST(Launcher, AddsToTheUsersTunablesAndKeepsTheirOwnChoice) {
  LauncherCopy copy;
  auto added = copy.run_with("glibc.malloc.arena_max=2", {});
  EXPECT_EQ(added.exit_code, 7) << added.err;
  EXPECT_EQ(added.err, "");
  EXPECT_EQ(added.out,
            "tunables=glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1 "
            "user=glibc.malloc.arena_max=2\n");
  auto kept = copy.run_with("glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2", {});
  EXPECT_EQ(kept.exit_code, 7) << kept.err;
  EXPECT_EQ(kept.out, "tunables=glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2 user=unset\n");
}

// A saved value left in the environment (copied from a running msaas-cli's, say) is not the
// user's: msaas-cli would put it back for the programs it starts.
TEST(Launcher, DropsASavedValueItDidNotSave) {
  LauncherCopy copy;
  auto res = copy.run_with("glibc.malloc.hugetlb=0", {},
                           {std::string(common::kUserTunablesVariable) + "=stale"});
  EXPECT_EQ(res.exit_code, 7) << res.err;
  EXPECT_EQ(res.out.substr(0, res.out.find('\n')), "tunables=glibc.malloc.hugetlb=0 user=unset");
}

TEST(Launcher, ASignalThatEndsTheProgramEndsTheCommand) {
  LauncherCopy copy;
  auto res = copy.run_with(nullptr, {"die"});
  EXPECT_EQ(res.exit_code, 128 + SIGTERM) << res.err;
}

TEST(Launcher, WithoutItsProgramSaysWhichOneInOneLine) {
  LauncherCopy copy;
  fs::permissions(copy.dir / "msaas-cli", fs::perms::owner_read | fs::perms::owner_write);
  auto stuck = copy.run_with(nullptr, {"--help"});
  EXPECT_EQ(stuck.exit_code, 126);  // there, but not runnable
  EXPECT_NE(stuck.err.find("msaas: error: cannot start " + (copy.dir / "msaas-cli").string()),
            std::string::npos)
      << stuck.err;
  fs::remove(copy.dir / "msaas-cli");
  auto res = copy.run_with(nullptr, {"--help"});
  EXPECT_EQ(res.exit_code, 127);
  EXPECT_EQ(res.out, "");
  EXPECT_NE(res.err.find("msaas: error: cannot start " + (copy.dir / "msaas-cli").string()),
            std::string::npos)
      << res.err;
  EXPECT_EQ(res.err.find('\n'), res.err.size() - 1) << res.err;
}

TEST(Launcher, TheRealProgramAnswersThroughIt) {
  auto res = run_msaas({"--help"});
  EXPECT_EQ(res.exit_code, 0) << res.err;
  EXPECT_NE(res.out.find("separate"), std::string::npos) << res.out;
  auto bad = run_msaas({"no-such-command"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("msaas: error:"), std::string::npos) << bad.err;
}

TEST(GlibcTunables, FindsOnlyWholeNames) {
  using common::sets_tunable;
  EXPECT_TRUE(sets_tunable("glibc.malloc.hugetlb=1", "glibc.malloc.hugetlb"));
  EXPECT_TRUE(sets_tunable("a=1:glibc.malloc.hugetlb=0", "glibc.malloc.hugetlb"));
  EXPECT_TRUE(sets_tunable("glibc.malloc.hugetlb=", "glibc.malloc.hugetlb"));  // the user's say
  EXPECT_FALSE(sets_tunable("glibc.malloc.hugetlbx=1", "glibc.malloc.hugetlb"));
  EXPECT_FALSE(sets_tunable("xglibc.malloc.hugetlb=1", "glibc.malloc.hugetlb"));
  EXPECT_FALSE(sets_tunable("glibc.malloc.hugetlb", "glibc.malloc.hugetlb"));
  EXPECT_FALSE(sets_tunable("glibc.malloc.hugetlb:x=1", "glibc.malloc.hugetlb"));
  EXPECT_FALSE(sets_tunable("", "glibc.malloc.hugetlb"));
  EXPECT_EQ(common::with_malloc_huge_pages(""), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(common::with_malloc_huge_pages("glibc.malloc.hugetlb="), "glibc.malloc.hugetlb=");
}

// The engine keeps malloc's freed memory between calls unless the user set its thresholds;
// the huge pages the launcher adds are not such a setting (demucs/tensor_cache.cpp).
TEST(GlibcTunables, OnlyThresholdsCountAsTheUsersMallocThresholds) {
  using common::sets_malloc_thresholds;
  EXPECT_FALSE(sets_malloc_thresholds("glibc.malloc.hugetlb=1"));
  EXPECT_FALSE(sets_malloc_thresholds("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"));
  EXPECT_TRUE(sets_malloc_thresholds("glibc.malloc.mmap_threshold=4096"));
  EXPECT_TRUE(sets_malloc_thresholds("glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=0"));
}

TEST(GlibcTunables, TheUsersValueComesBackForThePrograms) {
  ASSERT_EQ(std::getenv(common::kUserTunablesVariable), nullptr) << "ctest's own environment";
  EnvironmentVariable tunables("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
  setenv(common::kUserTunablesVariable, "glibc.malloc.arena_max=2", 1);
  common::restore_user_tunables();
  EXPECT_STREQ(std::getenv("GLIBC_TUNABLES"), "glibc.malloc.arena_max=2");
  EXPECT_EQ(std::getenv(common::kUserTunablesVariable), nullptr);
  setenv(common::kUserTunablesVariable, "", 1);  // the user had none
  common::restore_user_tunables();
  EXPECT_EQ(std::getenv("GLIBC_TUNABLES"), nullptr);
  setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0", 1);
  common::restore_user_tunables();  // nothing saved: nothing changes
  EXPECT_STREQ(std::getenv("GLIBC_TUNABLES"), "glibc.malloc.hugetlb=0");
}

}  // namespace
}  // namespace msaas::test
