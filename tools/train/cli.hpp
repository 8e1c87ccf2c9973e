#pragma once
// The command line of `train`.
#include "config.hpp"

#include <string>
#include <utility>
#include <vector>

namespace train {

struct CommandLine {
    TrainConfig config;
    RunOptions run;
    // Configuration options given explicitly, as (flag, JSON key of TrainConfig): a resumed run
    // takes its configuration from the checkpoint and refuses contradicting ones.
    std::vector<std::pair<std::string, std::string>> explicit_options;
    bool out_given = false;
};

// Parses argv. Returns -1 to go on, or the exit code to return at once (0 after --help, 2
// after an error, whose message has been printed).
int parse_command_line(int argc, char** argv, CommandLine& out);

// Replaces cl.config by the checkpoint's configuration, keeping the options a resumed run may
// change (--epochs, data locations). Throws UsageError for an explicit option that contradicts
// the checkpoint.
void apply_resumed_config(CommandLine& cl, const TrainConfig& saved);

}  // namespace train
