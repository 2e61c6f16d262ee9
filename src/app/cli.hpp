#pragma once

namespace kr::app {
/// Parses the command line, runs one subcommand, returns the process exit code.
int Main(int argc, char** argv);
}  // namespace kr::app
