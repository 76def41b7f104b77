// vecmirror-cli: see tools/cli/cli.h.
#include <iostream>

#include "tools/cli/cli.h"

int main(int argc, char** argv) {
  return vecmirror::cli::RunCli(argc, argv, std::cout, std::cerr);
}
