#include "somlier/cli/cli.h"

int main(int argc, char** argv) { return somlier::cli::Main(argc, argv); }
