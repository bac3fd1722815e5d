// cli/main.cpp: the msaas-cli program, which users start as `msaas` (launcher/main.cpp): parses
// the command line and hands over to a subcommand.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/eval.h"
#include "cli/models.h"
#include "cli/separate.h"
#include "cli/up.h"
#include "common/glibc_tunables.h"

int main(int argc, char** argv) {
  msaas::common::restore_user_tunables();  // what `msaas` changed was for this process alone
  CLI::App app{"MSaaS: music source separation (Demucs v4) in native C++", "msaas"};
  app.require_subcommand(1);
  msaas::cli::SeparateOptions separate;
  msaas::cli::ModelsOptions models;
  msaas::cli::EvalOptions eval;
  auto* separate_cmd = msaas::cli::add_separate_command(app, separate);
  msaas::cli::add_models_command(app, models);
  auto* eval_cmd = msaas::cli::add_eval_command(app, eval);
  msaas::cli::UpOptions up;
  msaas::cli::LogsOptions logs;
  CLI::App* up_cmd = nullptr;
  try {
    up_cmd = msaas::cli::add_up_command(app, up);
  } catch (const std::exception& e) {  // a bad MSAAS_* value
    std::cerr << "msaas: error: " << e.what() << "\n";
    return 2;
  }
  auto* logs_cmd = msaas::cli::add_logs_command(app, logs);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a subcommand finished with this exit code
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    std::cerr << "msaas: error: " << e.what() << " (see msaas --help)\n";
    return 2;
  }
  if (separate_cmd->parsed()) {
    int code = msaas::cli::run_separate(separate);
    // Everything is written, renamed and cleaned up by now. Unwinding libtorch's static state
    // would add about a third of a second to every run.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }
  if (eval_cmd->parsed()) return msaas::cli::run_eval(eval);
  if (up_cmd->parsed()) return msaas::cli::run_up(up, *up_cmd);
  if (logs_cmd->parsed()) return msaas::cli::run_logs(logs);
  return 0;
}
