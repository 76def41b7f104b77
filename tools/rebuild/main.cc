// vecmirror-rebuild: see tools/rebuild/rebuild_cli.h.
#include <unistd.h>

#include <iostream>

#include "tools/rebuild/rebuild_cli.h"

int main(int argc, char** argv) {
  return vecmirror::rebuild::RunRebuild(argc, argv, std::cout, std::cerr,
                                        isatty(STDERR_FILENO) == 1);
}
