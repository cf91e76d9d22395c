"""The acoustic stage, family-neutral: window schedules, receptive-field margins, the engines that run a window."""
