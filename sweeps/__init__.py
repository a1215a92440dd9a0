"""The paper's experiment grid as a job graph: steps (one entry-script command each), what they read and
write, and launchers that run them here (one after another, or N at a time over GPUs) or on SLURM."""
