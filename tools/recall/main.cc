// vecmirror-recall: see tools/recall/recall_cli.h.
#include <iostream>

#include "tools/recall/recall_cli.h"

int main(int argc, char** argv) {
  return vecmirror::recall::RunRecall(argc, argv, std::cout, std::cerr);
}
