"""What every layer shares: settings (config.py), logging set-up (logsetup.py) and the format of
a stored delivery file (spoolfile.py). Imports nothing else of smtp_logger."""
