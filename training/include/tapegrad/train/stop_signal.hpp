#pragma once
// SIGINT / SIGTERM request a clean stop: the training loop finishes its current step, saves a
// checkpoint and exits with 128 + the signal number. A second signal ends the process at once
// (for a stop that hangs, e.g. on a slow disk).
namespace tg::train {

void install_stop_handlers();
// 0 while no stop was requested, else the signal number.
int stop_requested();

}  // namespace tg::train
