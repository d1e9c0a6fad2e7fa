"""Running the worker (or the headless manager) as a system service: a systemd unit on
Linux, a launchd agent on macOS, a Scheduled Task on Windows. See docs/service.md."""
