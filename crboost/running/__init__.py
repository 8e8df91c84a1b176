"""Running a project and knowing where it stands: `crboost run`, the run's start and end hooks,
job set-up, the drivers' shared code (on the compute node), liveness, status and SLURM."""
