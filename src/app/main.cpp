// killreport: the thin entry point; every subcommand lives in src/app/.
#include "app/cli.hpp"

int main(int argc, char** argv) { return kr::app::Main(argc, argv); }
