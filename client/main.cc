// ptune: the command-line client of a ptune server (see client/cli.h).
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli.h"

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

int main(int argc, char** argv) {
  ptune::client::CliEnv env;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.terminal = isatty(STDOUT_FILENO) != 0;
  env.env_address = Env("PTUNE_ADDR");
  env.env_api_key = Env("PTUNE_API_KEY");
  return ptune::client::RunCli(std::vector<std::string>(argv + 1, argv + argc),
                               env);
}
