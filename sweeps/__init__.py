"""The paper's pipeline as one job graph: steps (one entry-script command each), what they read and write
(graph.py), the stages that add them (paper.py, from options.py's SweepOptions), and launchers that run them
here (one after another, N at a time over GPUs, or in this process) or on SLURM (launch.py). The paper's
sweeps (scripts/sweep.py) and the demo (scripts/demo.py, a preset: demo.py) build and run the same graph."""
